import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openHive } from '../src/index.js';
import { sequentialIds } from '../src/common/ids.js';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

/**
 * Issue 12.6: a failure exit must not hide a partial write (messaging operations), on a hive
 * folder in the default layout (the storage interface's: a bot's inbox is queues/inbox.<bot>.jsonl).
 */

const inbox = (bot: string) => `queues/inbox.${bot}.jsonl`;

function newHive(): string {
  const { dir } = tempHive('deia-partial-');
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  return dir;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The audit lines (bot-messaging.jsonl) of one event. */
const auditOf = (dir: string, event: string) => readJsonl(path.join(dir, 'bot-messaging.jsonl')).filter((a) => a.event === event);

describe('send @all when one inbox file cannot be written', () => {
  const box = (dir: string, bot: string) => path.join(dir, inbox(bot));

  it('stores nothing, says which file and why in one line, and a retry after the fix does not duplicate', () => {
    const dir = newHive();
    for (const b of ['A', 'B', 'C', 'E']) expect(deia(['register', b], { dir }).code).toBe(0);
    // An inbox's queue file is made with its first message: none yet for C.
    expect(fs.existsSync(box(dir, 'C'))).toBe(false);
    fs.mkdirSync(box(dir, 'C'), { recursive: true });
    const before = snapshotTree(dir);
    const said = new RegExp(`^deia: cannot write ${esc(inbox('C'))}: it is a directory, not a file \\(nothing was stored`);
    for (const args of [['send', '@all', 'hello all', '--as', 'A'], ['send', '@all', 'hello all', '--as', 'A', '--json']]) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(said);
      // Under --json the same error is also the JSON error document on stdout, for programs.
      if (args.includes('--json')) expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'EUNWRITABLE' });
      else expect(r.stdout).toBe('');
      expect(snapshotTree(dir)).toEqual(before);
    }
    // Other commands keep working meanwhile (the broken inbox blocks only its own mail).
    expect(deia(['send', 'B', 'direct', '--as', 'A'], { dir }).code).toBe(0);
    fs.rmdirSync(box(dir, 'C'));
    const ok = deia(['send', '@all', 'hello all', '--as', 'A', '--json'], { dir });
    expect(ok.code, ok.stderr).toBe(0);
    for (const b of ['B', 'C', 'E']) {
      const got = (JSON.parse(deia(['inbox', b, '--all', '--json'], { dir }).stdout) as Array<{ content: string }>).filter((m) => m.content === 'hello all');
      expect(got, b).toHaveLength(1);
      expect(readJsonl(box(dir, b)).filter((r) => r.t === 'item' && r.payload.content === 'hello all'), b).toHaveLength(1);
    }
    expect(auditOf(dir, 'message_delivered')).toHaveLength(4); // the direct one and three copies: each message with its audit line
  });

  it('pending mail to an inbox that cannot be written is retried, not a failure of every command', () => {
    const dir = newHive();
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (ms: number) => ({ DEIA_NOW: String(t0 + ms) });
    const id = deia(['send', 'LATE', 'hi', '--as', 'A'], { dir, env: at(0) }).stdout.trim();
    fs.mkdirSync(box(dir, 'LATE'), { recursive: true }); // an inbox's file that is a directory
    // LATE registers: delivering its waiting mail is retried, as every later delivery attempt.
    expect(deia(['register', 'LATE'], { dir, env: at(0) }).code).toBe(0);
    const r = deia(['inbox', '--as', 'A', '--json'], { dir, env: at(3_600_000 - 1000) });
    expect(r.code, r.stderr).toBe(0);
    expect(deia(['send', 'A', 'to myself', '--as', 'A'], { dir, env: at(3_600_000 - 900) }).code).toBe(0);
    const why = /recipient inbox cannot be written: it is a directory/;
    // Sent before LATE had an inbox, then retried because its inbox's file cannot be written.
    const retries = auditOf(dir, 'message_retry').filter((a) => a.message_id === id);
    expect(retries[0]?.details.reason).toBe('recipient has no inbox');
    expect(retries.at(-1)?.details.reason).toMatch(why);
    const waiting = JSON.parse(fs.readFileSync(path.join(dir, 'docs', 'outbox.json'), 'utf8')).value.messages.find((m: { message_id: string }) => m.message_id === id);
    expect(waiting).toMatchObject({ status: 'pending', last_error: expect.stringMatching(why) });
  });
});

describe('a commit that fails part-way on the default layout (library, injected failures)', () => {
  afterEach(() => vi.restoreAllMocks());

  /** A hive in the default layout with A, B, C and E registered, and A's library handle. */
  async function hive() {
    const { dir } = tempHive('deia-partial-layout-');
    const a = await openHive({ dir, as: 'A', ids: sequentialIds('m'), warn: () => undefined });
    expect(a.ctx.storeChoice.kind).toBe('interface');
    for (const b of ['A', 'B', 'C', 'E']) await a.register(b);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    return { dir, a };
  }

  /**
   * Writes to the file whose path ends with `suffix` fail with `code` (a full disk), from now on;
   * with `undo: false`, cutting a file back fails too (EIO).
   */
  function failWritesTo(suffix: string, opts: { code?: string; undo?: boolean } = {}) {
    const code = opts.code ?? 'ENOSPC';
    const fds = new Set<number>();
    const open = fs.openSync;
    vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      const fd = (open as (...a: unknown[]) => number)(p, ...rest);
      if (String(p).endsWith(suffix)) fds.add(fd);
      return fd;
    }) as typeof fs.openSync);
    const close = fs.closeSync;
    vi.spyOn(fs, 'closeSync').mockImplementation((fd: number) => {
      fds.delete(fd); // its number may name another file next
      close(fd);
    });
    const write = fs.writeSync;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      if (fds.has(fd)) throw Object.assign(new Error(`${code}: no space left on device, write`), { code, syscall: 'write' });
      return (write as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync);
    if (opts.undo === false) {
      vi.spyOn(fs, 'ftruncateSync').mockImplementation(() => {
        throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      });
    }
  }

  const helloAll = async (dir: string, bot: string) =>
    (await openHive({ dir, as: bot, warn: () => undefined })).inbox({ bot, all: true }).then((ms) => ms.filter((m) => m.content === 'hello all'));

  it("a full disk at one inbox's queue file, after other files of the transaction were written: all undone, one line naming the file; the retry does not duplicate", async () => {
    const { dir, a } = await hive();
    await a.send({ to: 'C', body: 'first' }); // C's queue file exists: the failure comes after the audit log and B's file are written
    const before = snapshotTree(dir);
    failWritesTo('queues/inbox.C.jsonl');
    const err = await a.send({ to: '@all', body: 'hello all' }).catch((e) => e);
    vi.restoreAllMocks();
    expect(err.code).toBe('ENOSPC');
    expect(err.message).not.toMatch(/\n/);
    expect(err.message).toMatch(/queues\/inbox\.C\.jsonl/);
    expect(err.hint).toMatch(/^nothing was stored/);
    // Nothing stayed: no copy for B, no audit line, no journal left for a later command to complete.
    expect(snapshotTree(dir)).toEqual(before);
    // Other commands keep working, and the retry stores each copy once.
    await a.send({ to: 'B', body: 'direct' });
    expect(await a.send({ to: '@all', body: 'hello all' })).toHaveLength(3);
    for (const b of ['B', 'C', 'E']) expect(await helloAll(dir, b), b).toHaveLength(1);
    expect(auditOf(dir, 'message_delivered')).toHaveLength(5); // first, direct and three copies
  });

  it('when the undo fails too, the error says so and names the journal that completes it; completed once, never twice', async () => {
    const { dir, a } = await hive();
    await a.send({ to: 'C', body: 'first' });
    failWritesTo('queues/inbox.C.jsonl', { undo: false });
    const err = await a.send({ to: '@all', body: 'hello all' }).catch((e) => e);
    vi.restoreAllMocks();
    expect(err.code).toBe('EPARTIAL');
    expect(err.message).not.toMatch(/\n/);
    const journal = /(txn\/[^ ]+\.json) completes it once the file can be written/.exec(err.message)?.[1];
    expect(journal, err.message).toBeDefined();
    expect(fs.existsSync(path.join(dir, journal!))).toBe(true);
    expect(err.hint).toMatch(/do not run the command again/);
    // The next command (the disk has room again) completes it first: every copy once, with its audit lines.
    await a.send({ to: 'B', body: 'direct' });
    expect(fs.existsSync(path.join(dir, journal!))).toBe(false);
    for (const b of ['B', 'C', 'E']) expect(await helloAll(dir, b), b).toHaveLength(1);
    expect(auditOf(dir, 'message_delivered')).toHaveLength(5);
  });
});
