/**
 * Idempotency of messaging on a hive folder in the default layout (the storage interface's:
 * queues/, docs/, txn/), through real CLI processes and the library: a send killed mid-way and
 * retried with its key stores exactly one copy (rule 6), a key outlives the read mail it stored,
 * key retention, `read` of a message removed while it waited for the inbox's lock, unsafe ids.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, snapshotTree, tempHive, type CliOptions } from './helpers/cli.js';
import { lib, logLines, withBackend } from './helpers/logs.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const HOUR = 3_600_000;
const at = (ms: number, env: Record<string, string> = {}): CliOptions => ({ env: { DEIA_NOW: String(T0 + ms), ...env } });

/** A new folder (the default layout), `init`ed, with `config` merged into its config.json. */
function hive(config: Record<string, Record<string, unknown>> = {}): string {
  const { dir } = tempHive('deia-msgidem-');
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const [section, values] of Object.entries(config)) Object.assign(cfg[section], values);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return dir;
}

function ok(dir: string, args: string[], opts: CliOptions = at(0)): string {
  const r = deia(args, { dir, ...opts });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const inbox = (dir: string, bot: string, ms = 0) => JSON.parse(ok(dir, ['inbox', bot, '--all', '--json'], at(ms))) as Array<Record<string, any>>;
const journals = (dir: string) => (fs.existsSync(path.join(dir, 'txn')) ? fs.readdirSync(path.join(dir, 'txn')).filter((f) => f.endsWith('.json')) : []);

describe('idempotency keys survive a crash mid-send (rule 6)', () => {
  it.each([
    { to: 'B', recipients: ['B'], completedBy: 'the retry itself' },
    { to: '@all', recipients: ['B', 'C'], completedBy: 'the retry itself' },
    { to: 'B', recipients: ['B'], completedBy: 'another bot sending to B first' },
  ])('a send to $to killed halfway through its transaction, retried with its key: one copy per recipient ($completedBy)', async ({ to, recipients, completedBy }) => {
    const dir = hive();
    for (const b of ['A', ...recipients]) ok(dir, ['register', b]);
    // SIGKILL right after the first file of the send's transaction is written (DEIA_FAULT).
    const killed = deia(['send', to, 'once', '--key', 'k1', '--as', 'A'], { dir, ...at(0, { DEIA_FAULT: 'file-txn-kill:1' }) });
    expect(killed.code).toBe(-1); // killed by a signal: nothing was acknowledged
    expect(killed.stdout).toBe('');
    expect(journals(dir)).toHaveLength(1); // the torn transaction's journal is left behind
    if (completedBy !== 'the retry itself') ok(dir, ['send', 'B', 'other', '--as', 'C']);
    const retry = ok(dir, ['send', to, 'once', '--key', 'k1', '--as', 'A']).trim().split('\n');
    expect(retry).toHaveLength(recipients.length);
    expect(journals(dir)).toEqual([]);
    for (const [i, bot] of recipients.entries()) {
      expect(inbox(dir, bot).filter((m) => m.content === 'once').map((m) => m.message_id)).toEqual([retry[i]]);
    }
    if (completedBy !== 'the retry itself') expect(inbox(dir, 'B').map((m) => m.content).sort()).toEqual(['once', 'other']);
    const events = await logLines(dir, 'bot-messaging');
    for (const id of retry) {
      expect(events.filter((e) => e.message_id === id).map((e) => e.event)).toEqual(['message_queued', 'message_delivered']);
    }
    // Once completed, the key is a plain repeat: the same messages, nothing stored.
    const before = snapshotTree(dir);
    expect(ok(dir, ['send', to, 'once', '--key', 'k1', '--as', 'A']).trim().split('\n')).toEqual(retry);
    expect(snapshotTree(dir)).toEqual(before);
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

  it('a message sent under a key, since read and forgotten by cleanup, is not stored again by a repeat of the key', async () => {
    const dir = hive({ messaging: { read_retention_hours: 1 } });
    ok(dir, ['register', 'B']);
    const id = ok(dir, ['send', 'B', 'x', '--key', 'k', '--as', 'A']).trim();
    ok(dir, ['read', id, '--as', 'B'], at(1000));
    const clean = JSON.parse(ok(dir, ['cleanup', '--json'], at(2 * HOUR)));
    expect(clean.compaction).toMatchObject({ dropped: 1 });
    expect(inbox(dir, 'B', 2 * HOUR)).toEqual([]);
    expect(ok(dir, ['send', 'B', 'x', '--key', 'k', '--as', 'A'], at(2 * HOUR)).trim()).toBe(id);
    expect(inbox(dir, 'B', 2 * HOUR)).toEqual([]);
    const events = await logLines(dir, 'bot-messaging');
    expect(events.filter((e) => e.event === 'message_queued').map((e) => e.message_id)).toEqual([id]);
  });
});

describe('key retention (deia cleanup)', () => {
  it('drops keys older than messaging.key_retention_hours, keeps the rest, and a dry run changes nothing', () => {
    const dir = hive();
    ok(dir, ['register', 'B']);
    const old = ok(dir, ['send', 'B', 'old', '--key', 'k-old', '--as', 'A'], at(0)).trim();
    const young = ok(dir, ['send', 'B', 'young', '--key', 'k-young', '--as', 'A'], at(100 * HOUR)).trim();
    const now = at(169 * HOUR); // default retention: 168 h
    const before = snapshotTree(dir);
    expect(JSON.parse(ok(dir, ['cleanup', '--dry-run', '--json'], now)).key_retention).toEqual({ files: 1, dropped: 1, kept: 1 });
    expect(snapshotTree(dir)).toEqual(before);
    expect(JSON.parse(ok(dir, ['cleanup', '--json'], now)).key_retention).toEqual({ files: 1, dropped: 1, kept: 1 });
    // Nothing old left: nothing changes.
    const after = snapshotTree(dir);
    expect(JSON.parse(ok(dir, ['cleanup', '--json'], now)).key_retention).toEqual({ files: 0, dropped: 0, kept: 1 });
    expect(snapshotTree(dir)).toEqual(after);
    // The kept key still deduplicates; the forgotten one sends again.
    expect(ok(dir, ['send', 'B', 'young', '--key', 'k-young', '--as', 'A'], now).trim()).toBe(young);
    expect(ok(dir, ['send', 'B', 'old', '--key', 'k-old', '--as', 'A'], now).trim()).not.toBe(old);
  });

  it('honours a configured retention', () => {
    const dir = hive({ messaging: { key_retention_hours: 1 } });
    ok(dir, ['register', 'B']);
    ok(dir, ['send', 'B', 'a', '--key', 'k', '--as', 'A']);
    expect(JSON.parse(ok(dir, ['cleanup', '--json'], at(2 * HOUR))).key_retention).toEqual({ files: 1, dropped: 1, kept: 0 });
  });
});

describe('read under the lock', () => {
  it('a message read and removed between `read` resolving its id and taking the inbox lock is "not found" (exit 2), not a TypeError', async () => {
    const dir = hive();
    ok(dir, ['register', 'B2']);
    const id = ok(dir, ['send', 'B2', 'soon gone', '--as', 'A']).trim();
    // Another process holds the inbox's lock while `read` resolves the id without it; meanwhile
    // the message is read and forgotten (as a reader and then cleanup would), then `read` gets the lock.
    const { pending } = await withBackend(dir, (b) =>
      b.transaction({ queues: ['inbox.B2'] }, async () => {
        const child = deiaAsync(['read', id.slice(0, 8), '--as', 'B2'], { dir });
        await new Promise((r) => setTimeout(r, 2500)); // the child lists the inbox, then waits for the lock
        expect(await b.queues.take('inbox.B2', id, { by: 'B2' })).not.toBeNull();
        expect((await b.queues.remove('inbox.B2', [id])).removed).toEqual([id]);
        return { pending: child }; // not awaited here: the child gets the lock once this returns
      }),
    );
    const err = await pending;
    expect(err.stderr).not.toMatch(/TypeError|Cannot read/);
    expect(err.stderr).toMatch(/no message with id/);
    expect(err.code).toBe(2);
  });
});

describe('ids and human output', () => {
  it('refuses an id source that produces an unsafe id, storing nothing', async () => {
    const dir = hive();
    ok(dir, ['register', 'BOT-001']);
    ok(dir, ['register', 'BOT-002']);
    const before = snapshotTree(dir);
    const { openHive, DeiaError } = await lib();
    for (const bad of ['../../etc/passwd', '\x1b[2Jboom', '', 'x'.repeat(129), 42 as unknown as string]) {
      const h = await openHive({ dir, as: 'BOT-001', env: {}, clock: () => T0, ids: () => bad });
      const err = await h.send({ to: 'BOT-002', body: 'hi' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, String(bad)).toBeInstanceOf(DeiaError);
      expect((err as Error).message).toMatch(/invalid message id/);
    }
    expect(snapshotTree(dir)).toEqual(before);
    const good = await openHive({ dir, as: 'BOT-001', env: {}, clock: () => T0, ids: () => 'run-7:task.3_ok' });
    expect((await good.send({ to: 'BOT-002', body: 'hi' })).message_id).toBe('run-7:task.3_ok');
    expect(inbox(dir, 'BOT-002').map((m) => m.message_id)).toEqual(['run-7:task.3_ok']);
  });

  it('inbox --next and read print stored ids and priorities sanitised (real processes)', async () => {
    const { dir } = tempHive('deia-msgidem-cli-');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    expect(deia(['register', 'V'], { dir }).code).toBe(0);
    // A record as any process able to write the inbox's file could leave it.
    const evil = '\x1b]0;pwned\x07EVIL\x1b[2J-0001';
    const template = JSON.parse(deia(['send', 'ELSEWHERE', 'hello', '--as', 'S', '--json'], { dir }).stdout);
    const m = { ...template, to_bot: 'V', message_id: evil, priority: 'P1\x1b[31m' };
    // The layout's inbox is a queue file: one item line per message (queue-fold.ts).
    fs.mkdirSync(path.join(dir, 'queues'), { recursive: true });
    const item = { t: 'item', id: evil, priority: 1, created_at: Date.parse(template.created_at), payload: m };
    fs.appendFileSync(path.join(dir, 'queues', 'inbox.V.jsonl'), JSON.stringify(item) + '\n');
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
