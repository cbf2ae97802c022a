/**
 * The storage interface's contract: one suite, run against both backends (file and PostgreSQL),
 * through the built library and, where concurrency is the point, through real processes.
 * The postgres fixture fails (never skips) when no server is reachable.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempHive } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

type Lib = typeof import('../src/index.js');
type Backend = import('../src/store/types.js').StorageBackend;
type OpenOpts = import('../src/store/open.js').OpenBackendOptions;

const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const WORKER = path.resolve('test/fixtures/backend-worker.mjs');

interface Place {
  where: string;
  cleanup: () => Promise<void>;
}

const fixtures: Array<{ kind: 'file' | 'postgres'; make: () => Promise<Place> }> = [
  {
    kind: 'file',
    make: async () => {
      const h = tempHive('deia-contract-');
      return { where: h.dir, cleanup: async () => fs.rmSync(h.root, { recursive: true, force: true }) };
    },
  },
  {
    kind: 'postgres',
    make: async () => {
      const db = await freshDatabase();
      const b = await (await lib()).openBackend(db.url, { migrate: true });
      await b.close();
      return { where: db.url, cleanup: db.drop };
    },
  },
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function worker(args: string[], env: Record<string, string> = {}): { done: Promise<Run>; child: ReturnType<typeof spawn>; lines: string[] } {
  const child = spawn(process.execPath, [WORKER, ...args], { env: { ...process.env, ...env } });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { done, child, lines };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe.each(fixtures)('storage contract: $kind backend', ({ kind, make }) => {
  let place: Place;
  let open: (opts?: OpenOpts) => Promise<Backend>;
  const opened: Backend[] = [];

  beforeEach(async () => {
    place = await make();
    open = async (opts = {}) => {
      const b = await (await lib()).openBackend(place.where, opts);
      opened.push(b);
      return b;
    };
  });

  afterEach(async () => {
    for (const b of opened.splice(0)) await b.close();
    await place.cleanup();
  });

  it('says which backend it is and never shows a password in its location', async () => {
    const b = await open();
    expect(b.kind).toBe(kind);
    const pw = kind === 'postgres' ? new URL(place.where).password : '';
    if (pw) expect(b.location).not.toContain(pw);
    expect(b.location).toContain(kind === 'postgres' ? '***' : place.where);
  });

  it('logs: append, read since an opaque cursor, end', async () => {
    const b = await open();
    const log = b.log<{ n: number }>('events');
    expect((await log.readSince()).records).toEqual([]);
    await log.append([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const first = await log.readSince();
    expect(first.records.map((r) => r.n)).toEqual([1, 2, 3]);
    expect(first.reset).toBe(false);
    expect(typeof first.cursor).toBe('string');
    await log.append([{ n: 4 }]);
    await log.append([{ n: 5 }]);
    const next = await log.readSince(first.cursor);
    expect(next.records.map((r) => r.n)).toEqual([4, 5]);
    expect((await log.readSince(next.cursor)).records).toEqual([]);
    expect((await log.readSince(await log.end())).records).toEqual([]);
    expect((await collect(log.stream())).map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
    // Another process sees what this one appended.
    const other = await open();
    expect((await other.log<{ n: number }>('events').readSince(first.cursor)).records.map((r) => r.n)).toEqual([4, 5]);
  });

  it('logs: export gives back the appended lines byte for byte', async () => {
    const b = await open();
    const log = b.log('audit');
    const records = [
      { z: 1, a: 2, timestamp: '2026-01-01T00:00:00.000Z' },
      { text: 'héllo "quoted" \\ back\nslash\t✓ 🐝', nested: { b: [1, 2.5, -0.001, 1e21], a: null } },
      { a: 1, a2: true, 'key with space': '', big: 12345678901234567890 },
    ];
    await log.append(records.slice(0, 1));
    await log.append(records.slice(1));
    const text = (await collect(log.exportLines())).join('');
    expect(text).toBe(records.map((r) => JSON.stringify(r) + '\n').join(''));
  });

  it('logs: retention by age moves old records to the archive, none lost or doubled', async () => {
    const b = await open();
    const log = b.log<{ t: number; i: number }>('samples', { timeOf: (r) => r.t });
    await log.append(Array.from({ length: 10 }, (_, i) => ({ t: 1000 + i * 100, i })));
    const before = await log.readSince();
    const r = await log.archiveOlderThan(1500);
    expect(r.archived).toBe(5);
    expect((await collect(log.stream())).map((x) => x.i)).toEqual([5, 6, 7, 8, 9]);
    expect((await collect(log.streamArchive())).map((x) => x.i)).toEqual([0, 1, 2, 3, 4]);
    expect((await log.archiveOlderThan(1500)).archived).toBe(0);
    // A cursor taken before retention: either still a position (nothing new since), or reset with the whole log as it is now.
    await log.append([{ t: 5000, i: 10 }]);
    const after = await log.readSince(before.cursor);
    if (after.reset) expect(after.records.map((x) => x.i)).toEqual([5, 6, 7, 8, 9, 10]);
    else expect(after.records.map((x) => x.i)).toEqual([10]);
    // A log without timeOf is never archived by age.
    const plain = b.log('plain');
    await plain.append([{ x: 1 }]);
    expect((await plain.archiveOlderThan(Date.now() + 1e9)).archived).toBe(0);
  });

  it('logs: retention by age also judges records appended in a transaction (they carry no time of their own)', async () => {
    const b = await open();
    const log = b.log<{ t: number; i: number }>('samples', { timeOf: (r) => r.t });
    await log.append([{ t: 1000, i: 0 }]);
    await b.transaction({ logs: ['samples'] }, (tx) => tx.append('samples', [{ t: 1100, i: 1 }, { t: 2000, i: 2 }]));
    await log.append([{ t: 1200, i: 3 }]);
    expect((await log.archiveOlderThan(1500)).archived).toBe(3);
    expect((await collect(log.stream())).map((x) => x.i)).toEqual([2]);
    expect((await collect(log.streamArchive())).map((x) => x.i).sort()).toEqual([0, 1, 3]);
  });

  it('logs: archiveWhere moves the records a rule picks, each once, oldest first; none lost or doubled', async () => {
    const b = await open();
    const log = b.log<{ task: string; i: number }>('work');
    await log.append(Array.from({ length: 9 }, (_, i) => ({ task: `t${i % 3}`, i })));
    const seen: number[] = [];
    const r = await log.archiveWhere((x) => {
      seen.push(x.i);
      return x.task === 't1';
    });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.archived).toBe(3);
    expect((await collect(log.stream())).map((x) => x.i)).toEqual([0, 2, 3, 5, 6, 8]);
    expect((await collect(log.streamArchive())).map((x) => x.i)).toEqual([1, 4, 7]);
    expect((await log.archiveWhere((x) => x.task === 't1')).archived).toBe(0);
    // Inside a transaction holding the log (the caller's rule must see a stable log): no deadlock,
    // and what the transaction appends commits with it.
    const n = await b.transaction({ logs: ['work'] }, async (tx) => {
      const moved = await log.archiveWhere((x) => x.task === 't0');
      tx.append('work', [{ task: 't0', i: 9 }]);
      return moved.archived;
    });
    expect(n).toBe(3);
    expect((await collect(log.stream())).map((x) => x.i)).toEqual([2, 5, 8, 9]);
    expect((await collect(log.streamArchive())).map((x) => x.i).sort((a, c) => a - c)).toEqual([0, 1, 3, 4, 6, 7]);
    // Exported lines are the kept ones, byte for byte; a log never written archives nothing.
    expect((await collect(log.exportLines())).join('')).toBe([2, 5, 8].map((i) => JSON.stringify({ task: `t${i % 3}`, i }) + '\n').join('') + JSON.stringify({ task: 't0', i: 9 }) + '\n');
    expect((await b.log('never').archiveWhere(() => true)).archived).toBe(0);
  });

  it('documents: versions, optimistic writes, update, delete', async () => {
    const b = await open();
    expect(await b.docs.get('state')).toBeUndefined();
    expect(await b.docs.put('state', { a: 1 }, { ifVersion: 0 })).toEqual({ version: 1 });
    await expect(b.docs.put('state', { a: 9 }, { ifVersion: 0 })).rejects.toMatchObject({ code: 'ECONFLICT' });
    expect(await b.docs.put('state', { a: 2 }, { ifVersion: 1 })).toEqual({ version: 2 });
    await expect(b.docs.put('state', { a: 9 }, { ifVersion: 1 })).rejects.toMatchObject({ code: 'ECONFLICT' });
    expect(await b.docs.get('state')).toEqual({ value: { a: 2 }, version: 2 });
    expect(await b.docs.put('state', { a: 3 })).toEqual({ version: 3 });
    const r = await b.docs.update<{ a: number }, string>('state', (cur) => ({ value: { a: cur!.a + 10 }, result: 'ok' }));
    expect(r).toBe('ok');
    expect(await b.docs.get('state')).toEqual({ value: { a: 13 }, version: 4 });
    expect(await b.docs.update('state', () => ({ result: 1 }))).toBe(1);
    expect((await b.docs.get('state'))!.version).toBe(4);
    await b.docs.delete('state');
    expect(await b.docs.get('state')).toBeUndefined();
  });

  it('documents: concurrent read-modify-writes from several processes lose no update', async () => {
    await (await open()).close();
    const runs = Array.from({ length: 4 }, () => worker(['incr', place.where, 'counter', '25']));
    for (const r of await Promise.all(runs.map((w) => w.done))) expect(r.stderr).toBe('');
    expect((await (await open()).docs.get('counter'))!.value).toBe(100);
  });

  it('transactions: writes commit together, or not at all when fn throws', async () => {
    const b = await open();
    await b.transaction({ docs: ['t1'], logs: ['tlog'], queues: ['tq'] }, async (tx) => {
      expect(await tx.get('t1')).toBeUndefined();
      tx.put('t1', { n: 1 });
      tx.append('tlog', [{ e: 'one' }]);
      tx.enqueue('tq', [{ id: 'm1', priority: 1, payload: 'x' }]);
    });
    expect((await b.docs.get('t1'))!.value).toEqual({ n: 1 });
    expect((await b.log('tlog').readSince()).records).toEqual([{ e: 'one' }]);
    expect((await b.queues.list('tq')).map((i) => i.id)).toEqual(['m1']);
    await expect(
      b.transaction({ docs: ['t1'], logs: ['tlog'], queues: ['tq'] }, async (tx) => {
        tx.put('t1', { n: 2 });
        tx.append('tlog', [{ e: 'two' }]);
        tx.enqueue('tq', [{ id: 'm2', priority: 1, payload: 'y' }]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await b.docs.get('t1'))!.value).toEqual({ n: 1 });
    expect((await b.log('tlog').readSince()).records).toEqual([{ e: 'one' }]);
    expect((await b.queues.list('tq')).map((i) => i.id)).toEqual(['m1']);
    await expect(b.transaction({ docs: ['t1'] }, (tx) => tx.put('other', 1))).rejects.toThrow(/outside its scope/);
  });

  it('transactions: several processes, each transaction sees the last one (no lost update, log matches)', async () => {
    await (await open()).close();
    const runs = Array.from({ length: 4 }, () => worker(['txn', place.where, 'ctr', 'ops', '20']));
    for (const r of await Promise.all(runs.map((w) => w.done))) expect(r.stderr).toBe('');
    const b = await open();
    expect((await b.docs.get('ctr'))!.value).toBe(80);
    const recs = (await b.log<{ saw: number }>('ops').readSince()).records;
    expect(recs.map((r) => r.saw).sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i));
  });

  it('a transaction killed halfway is all or nothing: the next operation finds all of it or none', async () => {
    await (await open()).close();
    // On a folder the worker kills itself (SIGKILL) right after the first file of its 5th
    // transaction is written (the counter document, not yet its log line): DEIA_FAULT. On
    // PostgreSQL, which has no such point, it is killed from outside while it runs.
    const w = worker(['txn', place.where, 'ctr', 'ops', '400'], { DEIA_FAULT: 'file-txn-kill:5' });
    if (kind === 'postgres') setTimeout(() => w.child.kill('SIGKILL'), 400);
    const killed = await w.done;
    expect(killed.code).toBe(-1);
    expect(killed.stderr).toBe('');
    // Another process carries on; each of its transactions sees one whole state.
    const next = await worker(['txn', place.where, 'ctr', 'ops', '3']).done;
    expect(next.stderr).toBe('');
    const b = await open();
    const n = (await b.docs.get<number>('ctr'))!.value;
    const recs = (await b.log<{ saw: number }>('ops').readSince()).records;
    expect(recs.map((r) => r.saw)).toEqual(Array.from({ length: n }, (_, i) => i));
    if (kind === 'file') {
      expect(n).toBe(5 + 3); // the torn 5th was completed from its journal, then 3 more
      expect(fs.readdirSync(path.join(place.where, 'txn'))).toEqual([]);
    }
  });

  it('queues: claims by priority, then age; enqueue is idempotent by id', async () => {
    let now = 1_000_000;
    const b = await open({ clock: () => now });
    await b.queues.enqueue('inbox', [
      { id: 'p2-old', priority: 2, payload: { n: 1 }, createdAt: 100 },
      { id: 'p2-new', priority: 2, payload: { n: 2 }, createdAt: 200 },
      { id: 'p0', priority: 0, payload: { n: 3 }, createdAt: 300 },
      { id: 'p1', priority: 1, payload: { n: 4 } },
    ]);
    const again = await b.queues.enqueue('inbox', [
      { id: 'p0', priority: 3, payload: { n: 99 } },
      { id: 'p3', priority: 3, payload: { n: 5 }, createdAt: 50 },
    ]);
    expect(again.added).toEqual(['p3']);
    expect((await b.queues.list('inbox')).map((i) => i.id)).toEqual(['p0', 'p1', 'p2-old', 'p2-new', 'p3']);
    expect((await b.queues.list('inbox', { limit: 2 })).map((i) => i.id)).toEqual(['p0', 'p1']);
    const got: string[] = [];
    for (;;) {
      const it = await b.queues.claimNext<{ n: number }>('inbox', { by: 'me' });
      if (!it) break;
      expect(it.state).toBe('done');
      expect(it.claimCount).toBe(1);
      expect(it.claimedBy).toBe('me');
      got.push(it.id);
    }
    expect(got).toEqual(['p0', 'p1', 'p2-old', 'p2-new', 'p3']);
    expect((await b.queues.get<{ n: number }>('inbox', 'p0'))!.payload).toEqual({ n: 3 });
    expect((await b.queues.get('inbox', 'p1'))!.createdAt).toBe(1_000_000);
    expect(await b.queues.list('inbox')).toEqual([]);
    expect((await b.queues.list('inbox', { states: ['done'] })).length).toBe(5);
    expect(await b.queues.claimNext('empty')).toBeNull();
    expect(await b.queues.names()).toEqual(['inbox']);
  });

  it('queues: leases hide an item until ack, nack or lapse; a lapsed lease is claimed again with claim_count 2', async () => {
    let now = 5_000_000;
    const b = await open({ clock: () => now });
    await b.queues.enqueue('work', [
      { id: 'a', priority: 1, payload: 'A' },
      { id: 'b', priority: 2, payload: 'B' },
    ]);
    const a = await b.queues.claimNext('work', { leaseMs: 10_000, by: 'w1' });
    expect(a).toMatchObject({ id: 'a', state: 'leased', claimCount: 1, leaseUntil: 5_010_000 });
    expect((await b.queues.list('work')).map((i) => i.id)).toEqual(['b']);
    const bItem = await b.queues.claimNext('work', { leaseMs: 10_000, by: 'w2' });
    expect(bItem!.id).toBe('b');
    expect(await b.queues.claimNext('work')).toBeNull();
    expect(await b.queues.nack('work', 'b')).toBe(true);
    expect(await b.queues.nack('work', 'b')).toBe(false);
    now += 10_001; // a's lease lapses
    const again = await b.queues.claimNext('work', { leaseMs: 10_000, by: 'w3' });
    expect(again).toMatchObject({ id: 'a', claimCount: 2, claimedBy: 'w3', state: 'leased' });
    expect(await b.queues.ack('work', 'a')).toBe(true);
    expect(await b.queues.ack('work', 'a')).toBe(false);
    expect((await b.queues.get('work', 'a'))!.state).toBe('done');
    const b2 = await b.queues.claimNext('work', { leaseMs: 10_000 });
    expect(b2).toMatchObject({ id: 'b', claimCount: 2 });
    now += 20_000;
    expect(await b.queues.ack('work', 'b')).toBe(false); // lapsed: no longer ours
    expect(await b.queues.ack('work', 'nope')).toBe(false);
  });

  it('queues: ack/nack of one claim (by, claim number): a lapsed claim not yet retaken still settles, a retaken one is refused', async () => {
    let now = 6_000_000;
    const b = await open({ clock: () => now });
    await b.queues.enqueue('work', [{ id: 'x', priority: 1, payload: 'X' }]);
    await b.queues.claimNext('work', { leaseMs: 1_000, by: 'w1' });
    now += 5_000; // lapsed, nobody claimed it since
    expect(await b.queues.nack('work', 'x', { claim: 1, by: 'w2' })).toBe(false);
    expect(await b.queues.nack('work', 'x', { claim: 1, by: 'w1' })).toBe(true);
    expect(await b.queues.get('work', 'x')).toMatchObject({ state: 'ready', claimCount: 1, claimedBy: 'w1' });
    await b.queues.claimNext('work', { leaseMs: 1_000, by: 'w1' });
    now += 5_000;
    await b.queues.claimNext('work', { leaseMs: 1_000, by: 'w1' }); // claim 3, by the same claimer
    expect(await b.queues.ack('work', 'x', { claim: 2, by: 'w1' })).toBe(false);
    expect(await b.queues.ack('work', 'x', { claim: 3, by: 'w1' })).toBe(true);
    expect((await b.queues.get('work', 'x'))!.state).toBe('done');
  });

  it('queues: take by id, claims of one priority only, and when an item was claimed', async () => {
    let now = 7_000_000;
    const b = await open({ clock: () => now });
    await b.queues.enqueue('mixed', [
      { id: 'hi', priority: 0, payload: 1, createdAt: 1 },
      { id: 'lo-1', priority: 3, payload: 2, createdAt: 2 },
      { id: 'lo-2', priority: 3, payload: 3, createdAt: 3 },
      { id: 'msg:with:colons', priority: 2, payload: 4, createdAt: 4 },
    ]);
    expect((await b.queues.claimNext('mixed', { priority: 3 }))!.id).toBe('lo-1');
    now += 5;
    const taken = await b.queues.take('mixed', 'lo-2', { by: 'reader' });
    expect(taken).toMatchObject({ id: 'lo-2', state: 'done', claimedAt: 7_000_005, claimedBy: 'reader' });
    expect(await b.queues.take('mixed', 'lo-2')).toBeNull(); // already claimed
    expect(await b.queues.take('mixed', 'nope')).toBeNull();
    expect(await b.queues.claimNext('mixed', { priority: 3 })).toBeNull();
    expect((await b.queues.take('mixed', 'msg:with:colons'))!.payload).toBe(4);
    expect((await b.queues.list('mixed')).map((i) => i.id)).toEqual(['hi']);
  });

  it('queues: restore stores items as they stand (done, leased, ready with claims), idempotent by id, and they behave so', async () => {
    let now = 8_000_000;
    const b = await open({ clock: () => now });
    const items = [
      { id: 'read', priority: 2, createdAt: 10, payload: { n: 1 }, state: 'done' as const, claimCount: 0, claimedAt: 20 },
      { id: 'held', priority: 1, createdAt: 11, payload: { n: 2 }, state: 'leased' as const, claimCount: 2, claimedBy: 'w1', claimedAt: 30, leaseUntil: now + 1_000 },
      { id: 'back', priority: 1, createdAt: 12, payload: { n: 3 }, state: 'ready' as const, claimCount: 1, claimedBy: 'w2', claimedAt: 40 },
    ];
    expect((await b.queues.restore('copy', items)).added).toEqual(['read', 'held', 'back']);
    expect((await b.queues.restore('copy', [{ ...items[0]!, state: 'ready' as const }])).added).toEqual([]); // left as it was
    for (const it of items) expect(await b.queues.get('copy', it.id)).toMatchObject(it);
    expect((await b.queues.list('copy')).map((i) => i.id)).toEqual(['back']);
    expect(await b.queues.ack('copy', 'held', { claim: 2, by: 'w1' })).toBe(true); // the holder of the restored claim settles it
    expect(await b.queues.claimNext('copy', { by: 'w3' })).toMatchObject({ id: 'back', claimCount: 2, claimedBy: 'w3' });
    expect(await b.queues.claimNext('copy')).toBeNull();
    await expect(b.queues.restore('a/b', items)).rejects.toThrow(/invalid queue name/);
  });

  it('queues: remove forgets items and their claims, whatever their state; documents: keys and documents by prefix', async () => {
    const b = await open();
    await b.queues.enqueue('q', [1, 2, 3].map((n) => ({ id: `m${n}`, priority: 0, payload: { n } })));
    expect((await b.queues.claimNext('q'))?.id).toBe('m1');
    expect((await b.queues.remove('q', ['m1', 'm2', 'nope'])).removed.sort()).toEqual(['m1', 'm2']);
    expect(await b.queues.get('q', 'm1')).toBeUndefined();
    expect((await b.queues.list('q', { states: ['ready', 'leased', 'done'] })).map((i) => i.id)).toEqual(['m3']);
    // Another process sees the removal; a removed id can be enqueued anew.
    const other = await open();
    expect((await other.queues.remove('q', ['m1'])).removed).toEqual([]);
    expect((await other.queues.enqueue('q', [{ id: 'm1', priority: 0, payload: { n: 9 } }])).added).toEqual(['m1']);
    for (const k of ['key.a.1', 'key.b.2', 'keyx', 'bot.a']) await b.docs.put(k, { k });
    expect(await other.docs.keys('key.')).toEqual(['key.a.1', 'key.b.2']);
    expect(await other.docs.keys('nothing.')).toEqual([]);
    await b.docs.put('key.a.1', { k: 'again' });
    expect([...(await other.docs.getAll('key.'))]).toEqual([
      ['key.a.1', { value: { k: 'again' }, version: 2 }],
      ['key.b.2', { value: { k: 'key.b.2' }, version: 1 }],
    ]);
    expect((await other.docs.getAll('nothing.')).size).toBe(0);
  });

  it('queues: lease lapse across processes (real time): the item comes back with claim_count 2', async () => {
    const b = await open();
    await b.queues.enqueue('lapse', [{ id: 'only', priority: 1, payload: null }]);
    const first = worker(['claim', place.where, 'lapse', 'w1', '300']);
    expect((await first.done).stdout.trim()).toBe('only');
    expect(await b.queues.claimNext('lapse')).toBeNull();
    await new Promise((r) => setTimeout(r, 400));
    const second = await b.queues.claimNext('lapse', { leaseMs: 60_000 });
    expect(second).toMatchObject({ id: 'only', claimCount: 2 });
  });

  it('queues: N processes claiming M items concurrently: each item claimed exactly once', async () => {
    const b = await open();
    const M = kind === 'file' ? 300 : 1200;
    const N = 6;
    const items = Array.from({ length: M }, (_, i) => ({ id: `m${i}`, priority: i % 4, payload: { i } }));
    for (let i = 0; i < M; i += 200) await b.queues.enqueue('hot', items.slice(i, i + 200));
    const runs = Array.from({ length: N }, (_, k) => worker(['claim', place.where, 'hot', `c${k}`]));
    const results = await Promise.all(runs.map((w) => w.done));
    const claimed = results.flatMap((r) => {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    });
    expect(claimed.length).toBe(M);
    expect(new Set(claimed).size).toBe(M);
    expect(results.filter((r) => r.stdout.trim() !== '').length).toBeGreaterThan(1); // they really competed
    expect(await b.queues.list('hot')).toEqual([]);
  }, 120_000);

  it('change signal: a waiter in one process wakes on an enqueue in another', async () => {
    const b = await open();
    await b.queues.enqueue('other', [{ id: 'x', priority: 1, payload: null }]);
    // pollMs 60 s in the worker: only the change signal can wake it in time.
    const w = worker(['wait', place.where, 'sig', '15000']);
    await until(() => w.lines.includes('ready'));
    await new Promise((r) => setTimeout(r, 100));
    await b.queues.enqueue('sig', [{ id: 'hello', priority: 1, payload: 'hi' }]);
    const r = await w.done;
    expect(r.stderr).toBe('');
    expect(w.lines.some((l) => l.startsWith('got hello '))).toBe(true);
  });

  it('change signal: times out, aborts, and ignores queues it does not watch', async () => {
    const b = await open();
    const w = await b.watch([{ queue: 'mine' }]);
    await b.queues.enqueue('not-mine', [{ id: 'z', priority: 1, payload: null }]);
    expect(await w.changed({ timeoutMs: 300 })).toBe(false);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(await w.changed({ signal: ac.signal })).toBe(false);
    await b.queues.enqueue('mine', [{ id: 'y', priority: 1, payload: null }]);
    expect(await w.changed({ timeoutMs: 5000 })).toBe(true);
    await w.close();
  });

  it('refuses names that are not safe as file names or keys', async () => {
    const b = await open();
    expect(() => b.log('../escape')).toThrow(/invalid log name/);
    await expect(b.queues.enqueue('a/b', [])).rejects.toThrow(/invalid queue name/);
    await expect(b.docs.get('')).rejects.toThrow(/invalid document key/);
  });
});
