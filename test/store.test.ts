import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/store.js';
import { createContext } from '../src/hive.js';
import { locateHive } from '../src/store/locate.js';
import { tempHive } from './helpers/cli.js';

const worker = path.resolve('test/fixtures/store-worker.mjs');

function run(args: string[]): { done: Promise<number>; child: ReturnType<typeof spawn>; stdout: () => string } {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const done = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? -1 : 0))));
  return { done, child, stdout: () => out };
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

describe('store: concurrent appends from real processes', () => {
  it('16 processes × 200 locked appends give exactly 3,200 whole, unique lines', async () => {
    const { dir } = tempHive();
    const procs = Array.from({ length: 16 }, (_, w) => run(['append', dir, 'log.jsonl', String(w), '200']));
    const codes = await Promise.all(procs.map((p) => p.done));
    expect(codes).toEqual(Array(16).fill(0));
    const text = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const ls = lines(path.join(dir, 'log.jsonl'));
    expect(ls).toHaveLength(3200);
    const seen = new Set<string>();
    const perWorker = new Map<number, number[]>();
    for (const l of ls) {
      const r = JSON.parse(l); // throws if two records were interleaved
      expect(r.pad).toMatch(/^x+$/);
      const key = `${r.worker}:${r.i}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      perWorker.set(r.worker, [...(perWorker.get(r.worker) ?? []), r.i]);
    }
    // Each process's records appear in the order it wrote them.
    for (const [, is] of perWorker) expect(is).toEqual([...is].sort((a, b) => a - b));
  }, 120_000);
});

describe('store: a lock holder killed with SIGKILL', () => {
  it('is taken over after the stale window, and nothing written before is lost', async () => {
    const { dir } = tempHive();
    const store = new Store(dir, { lock: { staleMs: 2000, maxWaitMs: 6000 } });
    await store.append('log.jsonl', [{ before: 1 }, { before: 2 }]);
    const holder = run(['hold', dir, 'log.jsonl', '99', '', '2000']);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (holder.stdout().includes('locked')) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    holder.child.kill('SIGKILL');
    await holder.done;
    expect(fs.existsSync(path.join(dir, 'log.jsonl.lock'))).toBe(true); // the dead holder's lock is still there
    await store.append('log.jsonl', [{ after: 1 }]);
    const recs = store.read<Record<string, number>>('log.jsonl').records;
    expect(recs).toEqual([{ before: 1 }, { before: 2 }, { worker: 99, i: 0, held: true }, { after: 1 }]);
    expect(fs.existsSync(path.join(dir, 'log.jsonl.lock'))).toBe(false);
  }, 30_000);

  it('gives up with a clear error, not a hang, when a live holder never lets go', async () => {
    const { dir } = tempHive();
    const holder = run(['hold', dir, 'log.jsonl', '1', '', '2000']);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => holder.stdout().includes('locked') && (clearInterval(t), resolve()), 20);
    });
    const store = new Store(dir, { lock: { staleMs: 2000, maxWaitMs: 2500 } });
    await expect(store.append('log.jsonl', [{ x: 1 }])).rejects.toThrow(/store busy: .*log\.jsonl stayed locked/);
    holder.child.kill('SIGKILL');
    await holder.done;
  }, 30_000);
});

describe('store: torn and corrupt lines', () => {
  it('reads every complete record, warns once with file and line, and the next append starts a fresh line', async () => {
    const { dir } = tempHive();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'log.jsonl');
    fs.writeFileSync(file, '{"n":1}\n{"n":2}\nnot json\n{"n":3}\n{"n":4,"cut');
    const warnings: string[] = [];
    const store = new Store(dir, { warn: (m) => warnings.push(m) });
    expect(store.read('log.jsonl').records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(store.read('log.jsonl').records).toHaveLength(3); // a second read does not warn again
    expect(warnings).toEqual([
      'log.jsonl:3: skipped a line that does not parse (run `deia doctor`)',
      'log.jsonl:5: skipped a torn last line (cut mid-record; run `deia doctor --repair`)',
    ]);
    await store.append('log.jsonl', [{ n: 5 }]);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"n":1}\n{"n":2}\nnot json\n{"n":3}\n{"n":4,"cut\n{"n":5}\n');
    expect(store.read('log.jsonl').records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 5 }]);
  });

  it('streams the same records as it reads, in chunks, whatever the file size', async () => {
    const { dir } = tempHive();
    const store = new Store(dir, { warn: () => {} });
    const recs = Array.from({ length: 5000 }, (_, i) => ({ i, s: 'é'.repeat(i % 40) }));
    await store.append('big.jsonl', recs);
    const got: unknown[] = [];
    for await (const { record } of store.stream('big.jsonl')) got.push(record);
    expect(got).toEqual(recs);
  });

  it('streams lines many chunks long, with their offsets and line numbers, and reports a long torn tail', async () => {
    const { dir } = tempHive();
    const bad: Array<{ line: number; offset: number; reason: string; len: number }> = [];
    const store = new Store(dir, { warn: () => {} });
    const long = { i: 1, s: 'x'.repeat(300_000) }; // about five 64 KiB chunks
    const text = JSON.stringify({ i: 0 }) + '\n' + JSON.stringify(long) + '\n' + 'not json\n' + JSON.stringify({ i: 2 }) + '\n' + '{"torn":"' + 'y'.repeat(200_000);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'log.jsonl'), text);
    const got: Array<{ record: any; offset: number }> = [];
    for await (const r of store.stream('log.jsonl', { onBad: (b) => bad.push({ line: b.line, offset: b.offset, reason: b.reason, len: b.text.length }) })) got.push(r);
    const at = (s: string) => Buffer.byteLength(text.slice(0, text.indexOf(s)));
    expect(got.map((r) => [r.record.i, r.offset])).toEqual([
      [0, 0],
      [1, at('{"i":1')],
      [2, at('{"i":2')],
    ]);
    expect(got[1]!.record).toEqual(long);
    expect(bad).toEqual([
      { line: 3, offset: at('not json'), reason: 'corrupt', len: 8 },
      { line: 5, offset: at('{"torn"'), reason: 'torn', len: 200_009 },
    ]);
  });

  it('reads only what came after a byte offset', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    const first = await store.append('log.jsonl', [{ n: 1 }, { n: 2 }]);
    await store.append('log.jsonl', [{ n: 3 }]);
    expect(store.read('log.jsonl', { from: first.end }).records).toEqual([{ n: 3 }]);
  });
});

describe('store: rewrite and update', () => {
  it('rewrites through a transform atomically and keeps corrupt lines aside instead of dropping them', async () => {
    const { dir } = tempHive();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'log.jsonl'), '{"n":1}\ngarbage\n{"n":2}\n{"n":3}\n');
    const store = new Store(dir, { warn: () => {} });
    const stats = await store.rewrite<{ n: number }>('log.jsonl', async function* (recs) {
      for await (const r of recs) if (r.n !== 2) yield r;
    });
    expect(stats).toMatchObject({ read: 3, kept: 2, corrupt: 1 });
    expect(fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8')).toBe('{"n":1}\n{"n":3}\n');
    expect(fs.readFileSync(path.join(dir, 'log.corrupt.jsonl'), 'utf8')).toBe('garbage\n');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a failing transform leaves the old file untouched and no temp file behind', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    await store.append('log.jsonl', [{ n: 1 }, { n: 2 }]);
    const before = fs.readFileSync(path.join(dir, 'log.jsonl'));
    await expect(
      store.rewrite('log.jsonl', async function* (recs) {
        for await (const r of recs) {
          yield r;
          throw new Error('boom');
        }
      }),
    ).rejects.toThrow('boom');
    expect(fs.readFileSync(path.join(dir, 'log.jsonl'))).toEqual(before);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('update does a locked read-modify-write of a JSON state file', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    for (let i = 0; i < 5; i++) {
      await store.update<{ n: number }>('state/counter.json', (s) => ({ state: { n: (s?.n ?? 0) + 1 }, result: undefined }));
    }
    expect(store.readJson('state/counter.json')).toEqual({ n: 5 });
    const mode = fs.statSync(path.join(dir, 'state/counter.json')).mode & 0o777;
    expect(mode & 0o002).toBe(0); // not world-writable
  });

  it('refuses paths that would leave the hive folder', () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    expect(() => store.path('../outside.jsonl')).toThrow(/outside the hive/);
    expect(() => store.path('mailboxes/../../x')).toThrow(/outside the hive/);
  });

  it('refuses to take locks out of the global order', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    await expect(store.withLock('bot-messaging.jsonl', () => store.withLock('outbox.jsonl', () => 1))).rejects.toThrow(
      /lock order violation/,
    );
    expect(await store.withLock(['bot-messaging.jsonl', 'outbox.jsonl'], () => 2)).toBe(2);
  });
});

describe('locating the hive', () => {
  it('prefers --dir, then DEIA_DIR, then the nearest .deia walking up, else ./.deia', () => {
    const { root } = tempHive();
    const deep = path.join(root, 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    expect(locateHive({ cwd: deep, env: {} })).toBe(path.join(deep, '.deia'));
    fs.mkdirSync(path.join(root, 'a', '.deia'));
    expect(locateHive({ cwd: deep, env: {} })).toBe(path.join(root, 'a', '.deia'));
    expect(locateHive({ cwd: deep, env: { DEIA_DIR: '/tmp/x' } })).toBe('/tmp/x');
    expect(locateHive({ cwd: deep, dir: 'rel', env: { DEIA_DIR: '/tmp/x' } })).toBe(path.join(deep, 'rel'));
  });

  it('validates identity, including NUL and over-long ids the shell cannot even pass', () => {
    const { dir } = tempHive();
    expect(() => createContext({ dir, as: 'a\u0000b', env: {} })).toThrow(/invalid identity/);
    expect(() => createContext({ dir, as: 'x'.repeat(65), env: {} })).toThrow(/invalid identity/);
    expect(createContext({ dir, as: 'x'.repeat(64), env: {} }).identity).toBe('x'.repeat(64));
  });
});

describe('store: incremental readers (readSince)', () => {
  it('returns only new records, and asks for a refold when the file was rewritten, even to the same size', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    await store.append('perf.jsonl', [{ n: 1 }, { n: 2 }]);
    const a = store.readSince('perf.jsonl', undefined);
    expect(a).toMatchObject({ records: [{ n: 1 }, { n: 2 }], reset: false });
    await store.append('perf.jsonl', [{ n: 3 }]);
    const b = store.readSince('perf.jsonl', a.cursor);
    expect(b).toMatchObject({ records: [{ n: 3 }], reset: false });
    expect(store.readSince('perf.jsonl', b.cursor)).toMatchObject({ records: [], reset: false });
    // A rewrite that keeps the size (n:1 -> n:9) puts a new inode in place: offsets into the old file mean nothing.
    await store.rewrite<{ n: number }>('perf.jsonl', async function* (recs) {
      for await (const r of recs) yield r.n === 1 ? { n: 9 } : r;
    });
    expect(store.size('perf.jsonl')).toBe(b.cursor.offset);
    const c = store.readSince('perf.jsonl', b.cursor);
    expect(c).toMatchObject({ records: [{ n: 9 }, { n: 2 }, { n: 3 }], reset: true });
    expect(store.readSince('perf.jsonl', c.cursor)).toMatchObject({ records: [], reset: false });
  });
});

describe('store: overlapping calls in one process (library users)', () => {
  it('serialises read-modify-writes of concurrent calls on one Store', async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    await Promise.all(
      Array.from({ length: 40 }, () =>
        store.update<{ n: number }>('state/counter.json', async (s) => {
          await new Promise((r) => setTimeout(r, 1)); // yield inside the critical section
          return { state: { n: (s?.n ?? 0) + 1 }, result: undefined };
        }),
      ),
    );
    expect(store.readJson('state/counter.json')).toEqual({ n: 40 });
  });

  it("keeps nested critical sections re-entrant, and one call's locks invisible to another", async () => {
    const { dir } = tempHive();
    const store = new Store(dir);
    const results = await Promise.all([
      store.withLock(['outbox.jsonl', 'bot-messaging.jsonl'], async () => {
        await new Promise((r) => setTimeout(r, 20));
        store.appendHeld('bot-messaging.jsonl', [{ a: 1 }]);
        return store.withLock('bot-messaging.jsonl', () => 'nested ok');
      }),
      // Would throw "without holding its lock" or a false order violation if locks leaked between calls.
      store.withLock('bot-messaging.jsonl', () => {
        expect(store.isHeld('outbox.jsonl')).toBe(false);
        store.appendHeld('bot-messaging.jsonl', [{ b: 1 }]);
        return 'other ok';
      }),
    ]);
    expect(results).toEqual(['nested ok', 'other ok']);
    expect(store.read('bot-messaging.jsonl').records).toHaveLength(2);
  });
});
