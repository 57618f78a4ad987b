// openpgp.js, loaded on first use. It is a large module (some 10 MiB of heap once compiled), and most of a
// worker's life needs none of it: the main thread only encrypts outgoing mail for a reporter or maintainer
// whose key we hold, and a parser thread only decrypts or verifies PGP mail. Types come from a type-only
// import (`import type * as openpgp from 'openpgp'`), values from `await openpgpLib()`.

type OpenPgp = typeof import('openpgp');

let loading: Promise<OpenPgp> | undefined;

export function openpgpLib(): Promise<OpenPgp> {
  return (loading ??= import('openpgp'));
}
