import { describe, expect, it } from 'vitest';
import { cvssRating, parseCvss } from '../../src/core/cvss.ts';

// CVSS base scores come from ae-cvss-calculator; these tables are FIRST's published examples, so a library that
// scores differently from FIRST's own calculator fails here.
//
// CVSS 3.1: "CVSS v3.1 Examples" (https://www.first.org/cvss/v3.1/examples), one row per example document entry.
// CVSS 4.0: "CVSS v4.0 Examples" (https://www.first.org/cvss/v4.0/examples) and the v4.0 specification's
// reference points (the all-high network vector, no impact at all).

const V31: Array<[string, string, number, string]> = [
  ['CVE-2013-1937 phpMyAdmin reflected XSS', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'medium'],
  ['CVE-2013-0375 MySQL stored SQL injection', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4, 'medium'],
  ['CVE-2014-3566 SSLv3 POODLE', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N', 3.1, 'low'],
  ['CVE-2012-1516 VMware guest to host escape', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H', 9.9, 'critical'],
  ['CVE-2009-0783 Apache Tomcat XML parser', 'CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L', 4.2, 'medium'],
  ['CVE-2012-0384 Cisco IOS arbitrary command execution', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 8.8, 'high'],
  ['CVE-2015-1098 Apple iWork denial of service', 'CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H', 7.8, 'high'],
  ['CVE-2014-0160 OpenSSL Heartbleed', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 7.5, 'high'],
  ['CVE-2014-6271 GNU Bash Shellshock', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'critical'],
  ['CVE-2008-1447 DNS Kaminsky bug', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N', 6.8, 'medium'],
  ['CVE-2014-2005 Sophos login screen bypass', 'CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 6.8, 'medium'],
  ['CVE-2010-0467 Joomla directory traversal', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N', 5.8, 'medium'],
  ['CVE-2012-1342 Cisco ASA ACL bypass', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N', 5.8, 'medium'],
  ['CVE-2013-6014 Juniper proxy ARP denial of service', 'CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H', 9.3, 'critical'],
];

const V40: Array<[string, string, number, string]> = [
  ['all high, network, no subsequent impact', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3, 'critical'],
  ['CVE-2014-0160 Heartbleed', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N', 8.7, 'high'],
  ['CVE-2014-6271 Shellshock, subsequent systems too', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', 10, 'critical'],
  ['CVE-2022-41741 nginx mp4 module', 'CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 8.4, 'high'],
  ['CVE-2013-1937 phpMyAdmin reflected XSS', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N', 5.1, 'medium'],
  ['no impact at all', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N', 0, 'none'],
];

describe('CVSS base scores match FIRST', () => {
  it.each(V31)('3.1 %s', (_name, vector, score, rating) => {
    const r = parseCvss(vector);
    expect(r).toEqual({ ok: true, score: { version: '3.1', vector, baseScore: score, rating } });
  });
  it.each(V40)('4.0 %s', (_name, vector, score, rating) => {
    const r = parseCvss(vector);
    expect(r).toEqual({ ok: true, score: { version: '4.0', vector, baseScore: score, rating } });
  });
});

describe('parseCvss refuses what is not a complete base vector, with one sentence', () => {
  it.each<[string, RegExp]>([
    ['', /takes a CVSS 3.1 or 4.0 vector/],
    ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /takes a CVSS 3.1 or 4.0 vector/],
    ['CVSS:3.1/AV:N/AC:L', /lacks the base metrics PR, UI, S, C, I, A/],
    ['CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /AV:Q is not a valid CVSS 3.1 value/],
    ['CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /AV is given twice/],
    ['CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', /lacks the base metric AT/],
    ['CVSS:3.1/ZZ:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /ZZ is not a CVSS 3.1 metric/],
    [`CVSS:3.1/${'AV:N/'.repeat(100)}`, /at most 300 characters/],
  ])('%j', (vector, error) => {
    const r = parseCvss(vector);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });

  it('temporal metrics may follow the base; the base score is still the base', () => {
    const r = parseCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:R');
    expect(r.ok && r.score.baseScore).toBe(9.8);
  });

  it.each<[number, string]>([[0, 'none'], [0.1, 'low'], [3.9, 'low'], [4, 'medium'], [6.9, 'medium'], [7, 'high'], [8.9, 'high'], [9, 'critical'], [10, 'critical']])('rating of %d is %s', (s, r) => {
    expect(cvssRating(s)).toBe(r);
  });
});
