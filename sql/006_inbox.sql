-- Real inboxes: machine mail is filed as a case in the terminal state `noise` (docs/noise.md says why a
-- case and not a message without one), with its class and the reason; a bounce of our mail marks that outgoing
-- message `bounced`; a support@ message that reads as a vulnerability report is filed as a security case and
-- says where it came from; reporters' progress updates can be turned off per case (#quiet / #notify).

alter table cases drop constraint cases_status_check;
alter table cases add constraint cases_status_check check (status in
  ('new', 'acknowledged', 'triaged', 'accepted', 'fixed', 'disclosed', 'closed', 'rejected', 'duplicate', 'spam', 'noise'));

-- What kind of machine mail set the case aside (src/core/classify.ts MessageKind) and the header that decided.
alter table cases add column noise_class text check (noise_class in ('bounce', 'auto-reply', 'list', 'spam', 'own'));
alter table cases add column noise_reason text;
-- The `cases list --noise` view, newest first, without reading the worked cases.
create index cases_noise on cases (opened_at desc, id desc) where status = 'noise';

-- The kind of mailbox a report was moved from (support), null when it was filed where it arrived.
alter table cases add column routed_from text;

-- false after #quiet: the reporter gets no progress updates on this case.
alter table cases add column reporter_updates boolean not null default true;

-- An outgoing message whose bounce came back: delivery `bounced`, the DSN's status and diagnostic in last_error.
alter table outbox drop constraint outbox_state_check;
alter table outbox add constraint outbox_state_check check (state in ('queued', 'sent', 'failed', 'bounced'));
