-- Disclosure: the advisory fields of a case, set by #command or `cases set`, each change an event.
-- The reporter's credit wish stays in report->>'credit'; #credit texts stay in cases.credits (sql/004).

alter table cases add column cwes text[] not null default '{}';           -- CWE-79, ... in the order given
alter table cases add column cvss text;                                   -- one CVSS 3.1 or 4.0 base vector
alter table cases add column affected text[] not null default '{}';       -- ranges as given: '<1.4.3', 'pkg >=2.0.0 <2.3.1'
alter table cases add column fixed_versions text[] not null default '{}'; -- versions that fix it: '1.4.3'
alter table cases add column disclose_on date;                            -- the agreed publication date (the embargo)

-- `cases list --disclosing` and the embargo reminders read the cases with a date.
create index cases_disclose_on on cases (disclose_on) where disclose_on is not null;
