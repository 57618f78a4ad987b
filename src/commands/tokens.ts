import type { Command } from 'commander';
import { MailcaseError } from '../errors.ts';
import { insertApiToken, listApiTokens, revokeApiToken } from '../db/queries/console.ts';
import { insertEvent } from '../db/queries/events.ts';
import { hashSecret, maintainerAccess, newSecret } from '../http/console/auth.ts';
import { cliActor } from './cases.ts';
import { printJson, printTable, withApp, type GlobalOpts } from './common.ts';

// `mailcase tokens create|list|revoke`: bearer tokens for the HTTP API (/api/v1). A token acts as the maintainer
// it names and sees their mailboxes; only its SHA-256 is stored, so it is shown once, when created.

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('bearer tokens for the HTTP API: create, list, revoke');
  tokens
    .command('create')
    .description('create a token for a maintainer; the token is printed once, alone on the last line')
    .requiredOption('--maintainer <email>', 'the maintainer the token acts as (maintainers[].email)')
    .option('--name <name>', 'what the token is for, e.g. "ci"', 'api')
    .action(async (opts: { maintainer: string; name: string }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const who = maintainerAccess(app.config, opts.maintainer);
        if (!who) throw new MailcaseError('MC_MAINTAINER_UNKNOWN', `${opts.maintainer} is not a configured maintainer (maintainers[].email)`);
        const name = opts.name.replace(/[\r\n\t]+/g, ' ').trim().slice(0, 100) || 'api';
        const secret = newSecret();
        const id = await insertApiToken(app.db.pool, { name, maintainer: who.email, hash: hashSecret(secret) });
        await insertEvent(app.db.pool, { caseId: null, kind: 'api_token_created', actor: cliActor().actor, data: { token: id, maintainer: who.email, name } });
        process.stdout.write(`token ${id} "${name}" for ${who.email} (mailboxes: ${who.allowed.join(', ')}); it is shown only now:\n${secret}\n`);
      });
    });
  tokens
    .command('list')
    .description('list the tokens (never their values)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const rows = await listApiTokens(app.db.pool);
        const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
        if (opts.json) {
          printJson(rows.map((r) => ({ id: r.id, name: r.name, maintainer: r.maintainer, created_at: iso(r.created_at), last_used_at: iso(r.last_used_at), revoked_at: iso(r.revoked_at) })));
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no tokens\n');
          return;
        }
        const d = (x: Date | null): string => (x ? x.toISOString().slice(0, 16).replace('T', ' ') : '-');
        printTable(['ID', 'NAME', 'MAINTAINER', 'CREATED', 'LAST USED', 'REVOKED'], rows.map((r) => [String(r.id), r.name, r.maintainer, d(r.created_at), d(r.last_used_at), d(r.revoked_at)]), [6, 16, 28, 16, 16]);
      });
    });
  tokens
    .command('revoke')
    .description('revoke a token: it stops working at once')
    .argument('<id>', 'the token id (tokens list)')
    .action(async (id: string) => {
      const n = Number(id);
      if (!Number.isInteger(n) || n <= 0) throw new MailcaseError('MC_INPUT', `a token id is a positive whole number, not "${id}"`);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        if (!(await revokeApiToken(app.db.pool, n))) throw new MailcaseError('MC_TOKEN_NOT_FOUND', `no live token ${n}`);
        await insertEvent(app.db.pool, { caseId: null, kind: 'api_token_revoked', actor: cliActor().actor, data: { token: n } });
        process.stdout.write(`token ${n} revoked\n`);
      });
    });
}
