import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createContext } from '../src/hive.js';
import { sequentialIds } from '../src/common/ids.js';
import { inboxMessages, sendMessages } from '../src/messaging/api.js';
import { ensureInbox, PartialSendError } from '../src/messaging/ops.js';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

/** Issue 12.6: a failure exit must not hide a partial write (messaging operations). */

const box = (dir: string, bot: string) => path.join(dir, 'mailboxes', `${bot}.jsonl`);

describe('send @all when one mailbox cannot be written', () => {
  it('stores nothing, says which file and why in one line, and a retry after the fix does not duplicate', () => {
    const { dir } = tempHive('deia-partial-');
    expect(deia(['init'], { dir }).code).toBe(0);
    for (const b of ['A', 'B', 'C', 'E']) expect(deia(['register', b], { dir }).code).toBe(0);
    fs.rmSync(box(dir, 'C'));
    fs.mkdirSync(box(dir, 'C'));
    const before = snapshotTree(dir);
    for (const args of [['send', '@all', 'hello all', '--as', 'A'], ['send', '@all', 'hello all', '--as', 'A', '--json']]) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^deia: cannot write mailboxes\/C\.jsonl: it is a directory, not a file \(nothing was stored/);
      // Under --json the same error is also the JSON error document on stdout, for programs.
      if (args.includes('--json')) expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'EUNWRITABLE' });
      else expect(r.stdout).toBe('');
      expect(snapshotTree(dir)).toEqual(before);
    }
    // Other commands keep working meanwhile (the broken mailbox blocks only its own mail).
    expect(deia(['send', 'B', 'direct', '--as', 'A'], { dir }).code).toBe(0);
    fs.rmdirSync(box(dir, 'C'));
    fs.writeFileSync(box(dir, 'C'), '');
    const ok = deia(['send', '@all', 'hello all', '--as', 'A', '--json'], { dir });
    expect(ok.code, ok.stderr).toBe(0);
    for (const b of ['B', 'C', 'E']) {
      const got = readJsonl(box(dir, b)).filter((r) => r.t === 'msg' && r.m.content === 'hello all');
      expect(got, b).toHaveLength(1);
    }
    const queued = readJsonl(path.join(dir, 'bot-messaging.jsonl')).filter((a) => a.event === 'message_delivered');
    expect(queued).toHaveLength(4); // the direct one and three copies: each message with its audit line
  });

  it('pending mail to a mailbox that cannot be written is retried, not a failure of every command', () => {
    const { dir } = tempHive('deia-partial-');
    expect(deia(['init'], { dir }).code).toBe(0);
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (ms: number) => ({ DEIA_NOW: String(t0 + ms) });
    const id = deia(['send', 'LATE', 'hi', '--as', 'A'], { dir, env: at(0) }).stdout.trim();
    fs.mkdirSync(box(dir, 'LATE'), { recursive: true }); // an "inbox" that is a directory
    const r = deia(['inbox', '--as', 'A', '--json'], { dir, env: at(3_600_000 - 1000) });
    expect(r.code, r.stderr).toBe(0);
    const retry = readJsonl(path.join(dir, 'outbox.jsonl')).find((o) => o.t === 'retry' && o.id === id);
    expect(retry?.reason).toMatch(/recipient inbox cannot be written: it is a directory/);
  });
});

describe('a commit that fails part-way (library, injected failures)', () => {
  afterEach(() => vi.restoreAllMocks());

  function hive() {
    const { dir } = tempHive('deia-partial-lib-');
    const ctx = createContext({ dir, as: 'A', ids: sequentialIds('m'), warn: () => undefined });
    return { dir, ctx };
  }

  function failOn(ctx: ReturnType<typeof createContext>, rel: string, code = 'ENOSPC') {
    const real = ctx.store.appendHeld.bind(ctx.store);
    vi.spyOn(ctx.store, 'appendHeld').mockImplementation((r, recs) => {
      if (r === rel) throw Object.assign(new Error(`${code}: no space left on device, write`), { code });
      return real(r, recs);
    });
  }

  it('a full disk at the audit log rolls the delivered copies back: nothing stored, one-line error naming the file', async () => {
    const { dir, ctx } = hive();
    for (const b of ['B', 'C']) await ensureInbox(ctx, b);
    await ensureInbox(ctx, 'A');
    const before = snapshotTree(dir);
    failOn(ctx, 'bot-messaging.jsonl');
    const err = await sendMessages(ctx, [{ to: '@all', body: 'x' }]).catch((e) => e);
    expect(err.message).toBe('cannot write bot-messaging.jsonl: the disk is full');
    expect(err.code).toBe('ENOSPC');
    vi.restoreAllMocks();
    expect(snapshotTree(dir)).toEqual(before);
    // and the same for a lease claim: the claim event is undone with its audit line
    await sendMessages(ctx, [{ to: 'B', body: 'job' }]);
    const mid = snapshotTree(dir);
    failOn(ctx, 'bot-messaging.jsonl');
    await expect(inboxMessages(ctx, 'B', { next: true, lease: '1m' })).rejects.toThrow(/disk is full/);
    vi.restoreAllMocks();
    expect(snapshotTree(dir)).toEqual(mid);
  });

  it('when the undo fails too, the error and `stored` say exactly which messages stayed and that no audit line did', async () => {
    const { ctx } = hive();
    for (const b of ['A', 'B', 'C']) await ensureInbox(ctx, b);
    failOn(ctx, 'bot-messaging.jsonl');
    vi.spyOn(fs, 'ftruncateSync').mockImplementation(() => {
      throw Object.assign(new Error('EIO'), { code: 'EIO' });
    });
    const err = await sendMessages(ctx, [{ to: '@all', body: 'x' }]).catch((e) => e);
    expect(err).toBeInstanceOf(PartialSendError);
    expect(err.code).toBe('EPARTIAL');
    expect(err.message).not.toMatch(/\n/);
    expect(err.message).toMatch(/^cannot write bot-messaging\.jsonl: the disk is full; appends to mailboxes\/B\.jsonl, mailboxes\/C\.jsonl could not be undone/);
    expect(err.message).toMatch(/2 message\(s\) stored: m\S* to B \(delivered\), m\S* to C \(delivered\); audit lines not written/);
    expect(err.stored.map((m: { to_bot: string }) => m.to_bot)).toEqual(['B', 'C']);
    expect(err.audited).toBe(false);
  });
});
