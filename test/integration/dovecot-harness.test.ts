// Proves test/helpers/dovecot.ts against the real Dovecot it starts: the other
// integration tests rely on exactly these behaviours.
import { once } from 'node:events';
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessages, bumpUidValidity, listMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';

function rawMessage(n: number): Buffer {
  return Buffer.from(
    [`From: alice@example.org`, `To: security@example.org`, `Subject: report ${n}`, `Message-ID: <harness-${n}@example.org>`, `Date: Mon, 1 Jan 2024 10:00:0${n} +0000`, '', `body ${n}`, ''].join('\r\n'),
  );
}

async function connect(d: Dovecot, u: DovecotUser): Promise<ImapFlow> {
  const cfg = d.imapConfig(u);
  const client = new ImapFlow({ host: cfg.host, port: cfg.port, secure: cfg.secure, auth: { user: cfg.user, pass: cfg.password }, logger: false });
  client.on('error', () => undefined); // commands reject on their own; an unhandled 'error' event would crash the worker
  await client.connect();
  return client;
}

async function uidValidity(d: Dovecot, u: DovecotUser, folder: string): Promise<bigint> {
  const client = await connect(d, u);
  try {
    const lock = await client.getMailboxLock(folder);
    try {
      if (client.mailbox === false) throw new Error(`${folder} is not selected`);
      return client.mailbox.uidValidity;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe('dovecot harness', { timeout: 30_000 }, () => {
  let d: Dovecot;
  beforeAll(async () => {
    d = await startDovecot();
  });
  afterAll(async () => {
    await d?.close();
  });

  it('appends messages and lists them back with their UIDs and no \\Seen flag', async () => {
    const u = d.newUser();
    const uids = await appendMessages(d, u, 'INBOX', [rawMessage(1), rawMessage(2), rawMessage(3)]);
    expect(uids).toEqual([1, 2, 3]);

    const listed = await listMessages(d, u, 'INBOX');
    expect(listed.map((m) => m.uid)).toEqual(uids);
    expect(listed.map((m) => m.messageId)).toEqual(['<harness-1@example.org>', '<harness-2@example.org>', '<harness-3@example.org>']);
    for (const m of listed) {
      expect(m.flags).not.toContain('\\Seen');
      expect(m.size).toBe(rawMessage(1).length);
    }
  });

  it('creates a missing folder on append and keeps the given flags', async () => {
    const u = d.newUser();
    const uids = await appendMessages(d, u, 'Cases', [rawMessage(4)], ['\\Seen', '$Triaged']);
    expect(await listMessages(d, u, 'Cases')).toEqual([
      { uid: uids[0], flags: ['$Triaged', '\\Seen'], messageId: '<harness-4@example.org>', size: rawMessage(4).length },
    ]);
  });

  it('gives every new user an empty INBOX', async () => {
    expect(await listMessages(d, d.newUser(), 'INBOX')).toEqual([]);
  });

  it('advertises IDLE by default and hides it with idle:false', async () => {
    const noIdle = await startDovecot({ idle: false });
    try {
      const withIdle = await connect(d, d.newUser());
      const without = await connect(noIdle, noIdle.newUser());
      try {
        expect(withIdle.capabilities.has('IDLE')).toBe(true);
        expect(without.capabilities.has('IDLE')).toBe(false);
        expect(without.capabilities.has('UIDPLUS')).toBe(true);
      } finally {
        await withIdle.logout();
        await without.logout();
      }
      // APPEND still reports UIDs without the default capability list.
      expect(await appendMessages(noIdle, noIdle.newUser(), 'INBOX', [rawMessage(1)])).toEqual([1]);
    } finally {
      await noIdle.close();
    }
  });

  it('stop() drops connections and refuses new ones; start() brings the same port and mail back', async () => {
    const u = d.newUser();
    await appendMessages(d, u, 'INBOX', [rawMessage(1), rawMessage(2)]);
    const port = d.port;

    const open = await connect(d, u);
    const closed = once(open, 'close');
    await d.stop();
    await closed; // the live session was cut, as in a real outage
    await expect(connect(d, u)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await d.start();
    expect(d.port).toBe(port);
    const client = await connect(d, u);
    await client.logout();
    expect((await listMessages(d, u, 'INBOX')).map((m) => m.messageId)).toEqual(['<harness-1@example.org>', '<harness-2@example.org>']);
  });

  it('start() fails fast with the log tail when the port is taken, and recovers once it is free', async () => {
    const other = await startDovecot();
    try {
      await other.stop();
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(other.port, other.host, resolve));
      try {
        await expect(other.start()).rejects.toThrow(/exited during start[\s\S]*Address already in use/);
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
      await other.start();
    } finally {
      await other.close();
    }
  });

  it('bumpUidValidity() changes UIDVALIDITY and keeps the messages and flags', async () => {
    const u = d.newUser();
    await appendMessages(d, u, 'INBOX', [rawMessage(1), rawMessage(2)]);
    await appendMessages(d, u, 'INBOX', [rawMessage(3)], ['\\Seen']);
    const before = await uidValidity(d, u, 'INBOX');
    const listedBefore = await listMessages(d, u, 'INBOX');

    await bumpUidValidity(d, u, 'INBOX');

    const after = await uidValidity(d, u, 'INBOX');
    expect(after).not.toBe(before);
    const listedAfter = await listMessages(d, u, 'INBOX');
    expect(listedAfter.map(({ messageId, flags, size }) => ({ messageId, flags, size }))).toEqual(
      listedBefore.map(({ messageId, flags, size }) => ({ messageId, flags, size })),
    );
  });

  it('bumpUidValidity() works on a folder other than INBOX', async () => {
    const u = d.newUser();
    await appendMessages(d, u, 'Cases', [rawMessage(5)]);
    const before = await uidValidity(d, u, 'Cases');
    await bumpUidValidity(d, u, 'Cases');
    expect(await uidValidity(d, u, 'Cases')).not.toBe(before);
    expect((await listMessages(d, u, 'Cases')).map((m) => m.messageId)).toEqual(['<harness-5@example.org>']);
  });
});
