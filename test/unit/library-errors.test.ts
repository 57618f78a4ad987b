import { describe, expect, it } from 'vitest';
import { isBatchError, isConnectionError, PG_TEXTS_WITHOUT_CODE } from '../../src/db/pg-errors.ts';
import { OPENPGP_TEXTS, openpgpFailure, openpgpMessage } from '../../src/mail/pgp/openpgp-errors.ts';

// The one table of library error texts that must be matched because the library gives no code (pg's lost
// connections, openpgp.js's failures); everything else is decided by codes.

describe('pg errors', () => {
  it.each([
    [{ code: '08006' }, true, true],
    [{ code: '57P01' }, true, true],
    [{ code: 'ECONNRESET' }, true, true],
    [{ message: 'Connection terminated unexpectedly' }, true, true],
    [{ message: 'Client has encountered a connection error and is not queryable' }, true, true],
    [{ message: 'Connection terminated due to connection timeout' }, true, true],
    [{ code: '40P01', message: 'deadlock detected' }, false, true],
    [{ code: '40001' }, false, true],
    [{ code: '53200' }, false, true],
    [{ code: '25P02' }, false, true],
    [{ code: '23505', message: 'duplicate key value violates unique constraint' }, false, false],
    [{ code: '22P02', message: 'invalid input syntax' }, false, false],
    [{ message: 'a message text that mentions a terminated connection in other words' }, false, false],
  ])('%o: connection %s, batch %s', (e, connection, batch) => {
    expect(isConnectionError(e)).toBe(connection);
    expect(isBatchError(e)).toBe(batch);
  });

  it('every text in the table is lower-case (it is matched against the lower-cased message)', () => {
    for (const t of PG_TEXTS_WITHOUT_CODE) expect(t.text).toBe(t.text.toLowerCase());
  });
});

describe('openpgp.js errors', () => {
  it.each([
    ['Error decrypting message: Max decompressed message size exceeded', 'too_large'],
    ['Error decrypting message: Modification detected.', 'integrity'],
    ['Error decrypting message: Authentication tag mismatch', 'integrity'],
    ['Error decrypting message: Session key decryption failed.', 'not_for_us'],
    ['Error decrypting message: No decryption key packets found', 'not_for_us'],
    ['Error decrypting message: Unsupported algorithm', null],
  ])('%s → %s', (text, kind) => {
    expect(openpgpFailure(openpgpMessage(new Error(text)))).toBe(kind);
  });

  it('takes the inner reason out of openpgp.js wrapping', () => {
    expect(openpgpMessage(new Error('Error reading message: Misformed armored text'))).toBe('Misformed armored text');
    expect(openpgpMessage(new Error('plain'))).toBe('plain');
  });

  it('every text in the table is lower-case', () => {
    for (const e of OPENPGP_TEXTS) for (const t of e.texts) expect(t).toBe(t.toLowerCase());
  });
});
