import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeiaError, UsageError } from '../src/common/errors.js';
import { sequentialIds } from '../src/common/ids.js';
import { createContext, type HiveContext } from '../src/hive.js';
import {
  compactKeys,
  compactMailboxes,
  conversation,
  inboxMessages,
  markRead,
  messagingStatus,
  sendMessages,
} from '../src/messaging/api.js';
import { archiveFile, archiveMarkerFile, ensureInbox, keysFile } from '../src/messaging/ops.js';
import { mailboxFile } from '../src/messaging/registry.js';
import type { KeyRecord, MailboxRecord } from '../src/messaging/types.js';
import { deia, deiaAsync, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { makeFolderLayout } from './helpers/folder-layout.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const HOUR = 3_600_000;

function hive(config?: Record<string, unknown>) {
  const { dir } = tempHive('deia-msgidem-');
  if (config) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  const clock = { now: T0 };
  const ids = sequentialIds('m');
  // Each context has its own Store: two contexts behave as two processes do (file locks).
  const make = (who = 'BOT-001', over: { ids?: () => string } = {}): HiveContext =>
    createContext({ dir, as: who, clock: () => clock.now, ids: over.ids ?? ids, random: () => 0.5, env: {} });
  return { dir, clock, ctx: make(), as: make };
}

/** A context whose store "dies" (throws) on the first non-empty append to a file under `prefix`. */
function crashingOn(h: ReturnType<typeof hive>, prefix: string): HiveContext {
  const ctx = h.as();
  const orig = ctx.store.appendHeld.bind(ctx.store);
  ctx.store.appendHeld = (rel, records) => {
    if (rel.startsWith(prefix) && records.length > 0) throw new Error(`simulated crash before appending to ${rel}`);
    return orig(rel, records);
  };
  return ctx;
}

const inboxIds = async (ctx: HiveContext, bot: string) => (await inboxMessages(ctx, bot, { all: true })).map((m) => m.message_id);
const auditOf = (dir: string) => readJsonl(path.join(dir, 'bot-messaging.jsonl'));

describe('idempotency keys survive a crash mid-send (rule 6)', () => {
  it.each([
    ['keys/', 'the key record'],
    ['mailboxes/', 'the mailbox'],
  ])('a send that dies before appending to %s (%s) and is retried delivers exactly one copy', async (prefix) => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-001');
    await ensureInbox(h.ctx, 'BOT-002');
    const input = [{ to: 'BOT-002', body: 'once', key: 'k1' }];
    await expect(sendMessages(crashingOn(h, prefix), input)).rejects.toThrow(/simulated crash/);
    const [a] = await sendMessages(h.as(), input);
    expect(await inboxIds(h.ctx, 'BOT-002')).toEqual([a!.message_id]);
    // Once repaired, the key is a plain repeat: same message, nothing stored.
    const before = snapshotTree(h.dir);
    const [b] = await sendMessages(h.as(), input);
    expect(b!.message_id).toBe(a!.message_id);
    expect(snapshotTree(h.dir)).toEqual(before);
    expect(auditOf(h.dir).filter((e) => e.event === 'message_delivered').map((e) => e.message_id)).toEqual([a!.message_id]);
  });

  it('concurrent processes sending with one key store one message and all print its id', async () => {
    const { dir } = tempHive('deia-msgidem-proc-');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['register', 'R'], { dir }).code).toBe(0);
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => deiaAsync(['send', 'R', 'exactly once', '--as', 'S', '--key', 'job-42'], { dir })),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const ids = new Set(runs.map((r) => r.stdout.trim()));
    expect(ids.size).toBe(1);
    const inbox = JSON.parse(deia(['inbox', 'R', '--all', '--json'], { dir }).stdout);
    expect(inbox.map((m: { message_id: string }) => m.message_id)).toEqual([...ids]);
  });

  it('a key record left alone (written through the store) is completed by the retry: one copy per recipient', async () => {
    // The planned record, as a send writes it, taken from another hive.
    const src = hive();
    for (const b of ['A1', 'A2', 'A3']) await ensureInbox(src.ctx, b);
    const planned = await sendMessages(src.as('A1'), [{ to: '@all', body: 'hello all', key: 'deploy' }]);
    const [rec] = readJsonl(path.join(src.dir, keysFile('A1'))) as KeyRecord[];
    expect(rec).toMatchObject({ key: 'deploy', at: new Date(T0).toISOString(), ids: planned.map((m) => m.message_id) });

    // The crash: the key record is stored, the messages are not. A3 has no inbox here.
    const h = hive();
    await ensureInbox(h.ctx, 'A1');
    await ensureInbox(h.ctx, 'A2');
    await h.ctx.store.append(keysFile('A1'), [rec]);
    for (let i = 0; i < 2; i++) {
      const got = await sendMessages(h.as('A1'), [{ to: '@all', body: 'hello all', key: 'deploy' }]);
      expect(got.map((m) => m.message_id)).toEqual(rec!.ids);
      const toA2 = rec!.messages.find((m) => m.to_bot === 'A2')!;
      const toA3 = rec!.messages.find((m) => m.to_bot === 'A3')!;
      expect(await inboxIds(h.ctx, 'A2')).toEqual([toA2.message_id]);
      // A3's copy waits in the outbox, once, until A3 has an inbox.
      expect(messagingStatus(h.ctx).pending.map((p) => p.message_id)).toEqual([toA3.message_id]);
    }
    await ensureInbox(h.ctx, 'A3');
    expect((await inboxMessages(h.ctx, 'A3')).map((m) => m.content)).toEqual(['hello all']);
    expect(conversation(h.ctx, 'A1', 'A3')).toHaveLength(1);
  });

  it('a message recorded under a key and since read and archived is not stored again', async () => {
    const h = hive({ messaging: { read_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'BOT-002');
    const [a] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'x', key: 'k' }]);
    await markRead(h.as('BOT-002'), [a!.message_id]);
    h.clock.now += 2 * HOUR;
    expect(await compactMailboxes(h.ctx)).toMatchObject({ dropped: 1 });
    const [b] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'x', key: 'k' }]);
    expect(b!.message_id).toBe(a!.message_id);
    expect(await inboxIds(h.ctx, 'BOT-002')).toEqual([]);
    expect(readJsonl(path.join(h.dir, archiveFile('BOT-002'))).map((m) => m.message_id)).toEqual([a!.message_id]);
  });
});

describe('compactKeys', () => {
  it('drops key records older than messaging.key_retention_hours, keeps the rest, and a dry run changes nothing', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    const [old] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'old', key: 'k-old' }]);
    h.clock.now += 100 * HOUR;
    const [young] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'young', key: 'k-young' }]);
    h.clock.now = T0 + 169 * HOUR; // default retention: 168 h
    const before = snapshotTree(h.dir);
    expect(await compactKeys(h.ctx, { dryRun: true })).toEqual({ files: 1, dropped: 1, kept: 1 });
    expect(snapshotTree(h.dir)).toEqual(before);
    expect(await compactKeys(h.ctx)).toEqual({ files: 1, dropped: 1, kept: 1 });
    expect((readJsonl(path.join(h.dir, keysFile('BOT-001'))) as KeyRecord[]).map((r) => r.key)).toEqual(['k-young']);
    // Nothing old left: no rewrite.
    const after = snapshotTree(h.dir);
    expect(await compactKeys(h.ctx)).toEqual({ files: 0, dropped: 0, kept: 1 });
    expect(snapshotTree(h.dir)).toEqual(after);
    // The kept key still deduplicates; the forgotten one sends again.
    expect((await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'young', key: 'k-young' }]))[0]!.message_id).toBe(young!.message_id);
    expect((await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'old', key: 'k-old' }]))[0]!.message_id).not.toBe(old!.message_id);
  });

  it('honours a configured retention', async () => {
    const h = hive({ messaging: { key_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'BOT-002');
    await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'a', key: 'k' }]);
    h.clock.now += 2 * HOUR;
    expect(await compactKeys(h.ctx)).toEqual({ files: 1, dropped: 1, kept: 0 });
  });
});

describe('read under the lock', () => {
  it('a message compacted away between resolving its id and taking the lock is "not found" (exit 2), not a TypeError', async () => {
    const h = hive({ messaging: { read_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'B2');
    const [m] = await sendMessages(h.ctx, [{ to: 'B2', body: 'soon gone' }]);
    await markRead(h.as('B2'), [m!.message_id], 'B2');
    h.clock.now += 2 * HOUR;
    // Another "process" (its own Store) holds the mailbox lock while `read` resolves the
    // id without it, then compacts the message away before letting `read` in.
    const cleaner = h.as();
    let pending!: Promise<unknown>;
    await cleaner.store.withLock(mailboxFile('B2'), async () => {
      pending = markRead(h.as('B2'), [m!.message_id.slice(0, 8)], 'B2').then(
        () => null,
        (e: unknown) => e,
      );
      expect(await compactMailboxes(cleaner)).toMatchObject({ dropped: 1 });
    });
    const err = await pending;
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/no message with id/);
  });
});

describe('mailbox archive is idempotent by id', () => {
  /** A context whose store dies after the archive appends and before the rename of a rewrite. */
  function dyingBeforeRename(h: ReturnType<typeof hive>): HiveContext {
    const ctx = h.as();
    ctx.store.rewriteHeld = async <T,>(rel: string, transform: (records: AsyncIterable<T>) => AsyncIterable<T>) => {
      const store = ctx.store;
      async function* src(): AsyncGenerator<T> {
        for await (const { record } of store.stream<T>(rel)) yield record;
      }
      for await (const _ of transform(src())) {
        // the new file is written ...
      }
      throw new Error('simulated crash before the rename'); // ... but never renamed over the old one
    };
    return ctx;
  }

  it('a compaction that died before its rename is redone without archiving anything twice, reading only the archive tail', async () => {
    const h = hive({ messaging: { read_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'B2');
    const sent = await sendMessages(h.ctx, ['m0', 'm1', 'm2', 'm3'].map((body) => ({ to: 'B2', body })));
    const id = (i: number) => sent[i]!.message_id;
    const reader = h.as('B2');
    // m0 is archived by a compaction that completes: the archive has history before the crashes.
    await markRead(reader, [id(0)], 'B2');
    h.clock.now += 2 * HOUR;
    await compactMailboxes(h.ctx);
    const archive = path.join(h.dir, archiveFile('B2'));
    const historyBytes = fs.statSync(archive).size;

    await markRead(reader, [id(1)], 'B2');
    h.clock.now += 2 * HOUR;
    await expect(compactMailboxes(dyingBeforeRename(h))).rejects.toThrow(/simulated crash/);
    // m1 is in both places now.
    expect(readJsonl(archive).map((m) => m.content)).toEqual(['m0', 'm1']);
    expect(await inboxIds(h.ctx, 'B2')).toContain(id(1));
    expect(fs.existsSync(path.join(h.dir, archiveMarkerFile('B2')))).toBe(true);

    // A second crash, archiving m2 as well: m1 is not appended again.
    await markRead(reader, [id(2)], 'B2');
    h.clock.now += 2 * HOUR;
    await expect(compactMailboxes(dyingBeforeRename(h))).rejects.toThrow(/simulated crash/);
    expect(readJsonl(archive).map((m) => m.content)).toEqual(['m0', 'm1', 'm2']);

    // The run that completes: every message archived exactly once; only the tail was read.
    const ctx = h.as();
    const streamed: Array<[string, number | undefined]> = [];
    const orig = ctx.store.stream.bind(ctx.store);
    ctx.store.stream = ((rel: string, opts: { from?: number } = {}) => {
      streamed.push([rel, opts.from]);
      return orig(rel, opts);
    }) as typeof ctx.store.stream;
    expect(await compactMailboxes(ctx)).toEqual({ mailboxes: 1, dropped: 2, kept: 1 });
    expect(readJsonl(archive).map((m) => m.content)).toEqual(['m0', 'm1', 'm2']);
    expect((await inboxMessages(h.ctx, 'B2', { all: true })).map((m) => m.content)).toEqual(['m3']);
    expect(streamed.filter(([rel]) => rel === archiveFile('B2'))).toEqual([[archiveFile('B2'), historyBytes]]);
    expect(fs.existsSync(path.join(h.dir, archiveMarkerFile('B2')))).toBe(false);
  });

  it('a crash on the very first compaction (no archive before it) is redone without duplicates', async () => {
    const h = hive({ messaging: { read_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'B2');
    const [m] = await sendMessages(h.ctx, [{ to: 'B2', body: 'first' }]);
    await markRead(h.as('B2'), [m!.message_id], 'B2');
    h.clock.now += 2 * HOUR;
    await expect(compactMailboxes(dyingBeforeRename(h))).rejects.toThrow(/simulated crash/);
    await compactMailboxes(h.ctx);
    expect(readJsonl(path.join(h.dir, archiveFile('B2'))).map((x) => x.message_id)).toEqual([m!.message_id]);
    expect(await inboxIds(h.ctx, 'B2')).toEqual([]);
  });
});

describe('ids and human output', () => {
  it('refuses an id source that produces an unsafe id, storing nothing', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-001');
    await ensureInbox(h.ctx, 'BOT-002');
    const before = snapshotTree(h.dir);
    for (const bad of ['../../etc/passwd', '\x1b[2Jboom', '', 'x'.repeat(129), 42 as unknown as string]) {
      const ctx = h.as('BOT-001', { ids: () => bad });
      const err = await sendMessages(ctx, [{ to: 'BOT-002', body: 'hi' }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, String(bad)).toBeInstanceOf(DeiaError);
      expect((err as Error).message).toMatch(/invalid message id/);
    }
    expect(snapshotTree(h.dir)).toEqual(before);
    const ok = h.as('BOT-001', { ids: () => 'run-7:task.3_ok' });
    expect((await sendMessages(ok, [{ to: 'BOT-002', body: 'hi' }]))[0]!.message_id).toBe('run-7:task.3_ok');
  });

  it.each([
    { layout: 'the default layout (layout.json)', folder: false },
    { layout: 'a 0.1 folder (mailboxes/)', folder: true },
  ])('inbox --next and read print stored ids and priorities sanitised (real processes), on $layout', async ({ folder }) => {
    const { dir } = tempHive('deia-msgidem-cli-');
    if (folder) makeFolderLayout(dir);
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(!folder);
    expect(deia(['register', 'V'], { dir }).code).toBe(0);
    // A record as any process able to write the inbox's file could leave it.
    const evil = '\x1b]0;pwned\x07EVIL\x1b[2J-0001';
    const template = JSON.parse(deia(['send', 'ELSEWHERE', 'hello', '--as', 'S', '--json'], { dir }).stdout);
    const m = { ...template, to_bot: 'V', message_id: evil, priority: 'P1\x1b[31m' };
    if (folder) {
      const rec: MailboxRecord = { t: 'msg', m };
      await createContext({ dir, env: {} }).store.append(mailboxFile('V'), [rec]);
    } else {
      // The layout's inbox is a queue file: one item line per message (queue-fold.ts).
      fs.mkdirSync(path.join(dir, 'queues'), { recursive: true });
      const item = { t: 'item', id: evil, priority: 1, created_at: Date.parse(template.created_at), payload: m };
      fs.appendFileSync(path.join(dir, 'queues', 'inbox.V.jsonl'), JSON.stringify(item) + '\n');
    }
    const next = deia(['inbox', 'V', '--next'], { dir });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/EVIL-0001 {2}from S {2}P1 /);
    const table = deia(['inbox', 'V', '--all'], { dir });
    const read = deia(['read', '\x1b]0;pwned', '--as', 'V'], { dir });
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/ {2}read\n$/);
    for (const r of [next, table, read]) expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });
});
