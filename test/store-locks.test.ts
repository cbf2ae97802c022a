import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, tempHive } from './helpers/cli.js';

/**
 * Lock staleness never trusts a process's clock (issue 12.5): a holder on this host is judged by
 * its pid, any other lock by its heartbeat against the file system's clock, and a heartbeat in
 * the future is broken, not live. On a hive folder in the default layout (the storage interface's).
 */
import { FUTURE_TOLERANCE_MS, judgeLock } from '../src/store/lock.js';

const HOUR = 3_600_000;

function shift(p: string, ms: number): void {
  const t = new Date(Date.now() + ms);
  fs.utimesSync(p, t, t);
}

/** Merge `store` settings (lock_stale_ms, lock_max_wait_ms) into a hive's config.json. */
function storeConfig(dir: string, store: Record<string, number>): void {
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(cfg.store, store);
  fs.writeFileSync(file, JSON.stringify(cfg));
}

/**
 * Another process holding the lock of the log `log` (bots.jsonl for `bots`) through the storage
 * interface, inside a transaction that never ends: resolves once it holds it.
 */
async function holdLogLock(dir: string, log: string): Promise<ChildProcess> {
  const script = `
    const { openBackend } = await import(process.env.DEIA_TEST_LIB);
    const b = await openBackend(process.argv[1]);
    await b.transaction({ logs: [process.argv[2]] }, async () => {
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
      await new Promise(() => {});
    });`;
  const holder = spawn(process.execPath, ['--input-type=module', '-e', script, dir, log], { env: process.env });
  let err = '';
  holder.stderr.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d) => String(d).includes('locked') && resolve());
    holder.on('exit', () => reject(new Error(`the holder exited: ${err}`)));
  });
  return holder;
}

describe('the staleness rule (pure, with injected mtimes)', () => {
  const fsNowMs = 1_000_000_000;
  const at = (ageMs: number, owner?: { pid: number; local: boolean; alive: boolean }) =>
    judgeLock({ heartbeatMs: fsNowMs - ageMs, fsNowMs, owner }, 10_000);

  it('a lock with no known holder is live inside the window, stale past it, broken when stamped in the future', () => {
    expect(at(0)).toMatchObject({ stale: false, reason: 'fresh' });
    expect(at(9_999)).toMatchObject({ stale: false, reason: 'fresh' });
    expect(at(10_001)).toMatchObject({ stale: true, reason: 'expired' });
    expect(at(-FUTURE_TOLERANCE_MS + 1)).toMatchObject({ stale: false, reason: 'fresh' });
    expect(at(-HOUR)).toMatchObject({ stale: true, reason: 'future' });
  });

  it('a holder on this host is judged by its pid alone, whatever its mtime says', () => {
    expect(at(HOUR, { pid: 7, local: true, alive: true })).toMatchObject({ stale: false, reason: 'live_holder' });
    expect(at(-HOUR, { pid: 7, local: true, alive: true })).toMatchObject({ stale: false, reason: 'live_holder' });
    expect(at(0, { pid: 7, local: true, alive: false })).toMatchObject({ stale: true, reason: 'dead_holder' });
  });

  it('a holder on another host is judged by its heartbeat', () => {
    expect(at(5_000, { pid: 7, local: false, alive: false })).toMatchObject({ stale: false, reason: 'fresh' });
    expect(at(20_000, { pid: 7, local: false, alive: false })).toMatchObject({ stale: true, reason: 'expired' });
  });
});

describe('locks on disk', () => {
  it('a lock folder stamped an hour in the future is taken over within the stale window, and doctor calls it broken', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['register', 'B'], { dir }).code).toBe(0);
    storeConfig(dir, { lock_stale_ms: 5000, lock_max_wait_ms: 12000 });
    const lock = path.join(dir, 'queues', 'inbox.B.jsonl.lock'); // the lock a send to B takes
    fs.mkdirSync(lock, { recursive: true });
    shift(lock, HOUR);
    const doc = deia(['doctor', '--json'], { dir });
    const p = JSON.parse(doc.stdout).problems.find((x: any) => x.kind === 'stale_lock');
    expect(p).toMatchObject({ path: 'queues/inbox.B.jsonl.lock' });
    expect(p.detail).toMatch(/in the future/);

    const t0 = Date.now();
    const sent = deia(['send', 'B', 'through', '--as', 'A'], { dir });
    expect(sent.code, sent.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.existsSync(lock)).toBe(false);
    expect(JSON.parse(deia(['inbox', 'B', '--json'], { dir }).stdout).map((m: any) => m.content)).toEqual(['through']);
  });

  it("cleanup removes a future-stamped lock and a dead holder's lock, and keeps a live holder's however old it looks", async () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    const future = path.join(dir, 'metrics.jsonl.lock');
    fs.mkdirSync(future);
    shift(future, HOUR);
    // A holder on this host whose process is gone: stale at once, though just written.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((r) => dead.on('exit', () => r(dead.pid!)));
    const deadLock = path.join(dir, 'tasks.jsonl.lock');
    fs.mkdirSync(deadLock);
    fs.writeFileSync(path.join(deadLock, 'owner'), JSON.stringify({ pid: deadPid, host: os.hostname(), ns: fs.readlinkSync('/proc/self/ns/pid'), token: 'x' }));

    const holder = await holdLogLock(dir, 'bots');
    try {
      // Its heartbeat an hour old: a clock-based rule would call it stale; its pid says it is live.
      const liveLock = path.join(dir, 'bots.jsonl.lock');
      shift(path.join(liveLock, 'owner'), -HOUR);
      shift(liveLock, -HOUR);
      const r = deia(['cleanup', '--json'], { dir });
      expect(r.code).toBe(0);
      const removed = JSON.parse(r.stdout).locks_removed.map((l: any) => l.path).sort();
      expect(removed).toEqual(['metrics.jsonl.lock', 'tasks.jsonl.lock']);
      expect(fs.existsSync(liveLock)).toBe(true);
      const doc = JSON.parse(deia(['doctor', '--json'], { dir }).stdout);
      expect(doc.held_locks).toEqual([expect.objectContaining({ path: 'bots.jsonl.lock', pid: holder.pid })]);
      // A command that needs it waits, then gives up naming the live holder: never takes it over.
      storeConfig(dir, { lock_stale_ms: 2000, lock_max_wait_ms: 3000 });
      const reg = deia(['register', 'BOB'], { dir });
      expect(reg.code).toBe(1);
      expect(reg.stderr).toMatch(new RegExp(`bots\\.jsonl stayed locked by pid ${holder.pid}`));
      expect(fs.existsSync(liveLock)).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('store.lock_max_wait_ms in config.json bounds how long a command waits for a lock a live process holds', async () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    storeConfig(dir, { lock_stale_ms: 2000, lock_max_wait_ms: 3000 });
    const holder = await holdLogLock(dir, 'bots');
    try {
      const t0 = Date.now();
      const reg = deia(['register', 'BOB'], { dir });
      const waited = Date.now() - t0;
      expect(reg.code).toBe(1);
      expect(reg.stderr).toMatch(new RegExp(`stayed locked by pid ${holder.pid} for more than 3 s`));
      expect(waited).toBeLessThan(8000); // 3 s configured (the default is 25 s), plus start-up
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

function claimAll(dir: string, bot: string, env: Record<string, string>, faked: boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    // One shell loop per claimer: claim until the inbox is empty (exit 1).
    const script = `while out=$("$@"); do printf '%s\\n\\036\\n' "$out"; done`;
    const cmd = [process.execPath, mainPath(), '--dir', dir, 'inbox', bot, '--as', bot, '--next', '--json'];
    const argv = faked ? ['faketime', '-f', '+1h', ...cmd] : cmd;
    const child = spawn('sh', ['-c', script, 'sh', ...argv], { env: { ...process.env, NO_COLOR: '1', DEIA_DIR: '', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      if (/taken over|store busy|internal error/.test(err)) reject(new Error(err));
      resolve(
        out
          .split('\u001e')
          .filter((doc) => doc.trim())
          .map((doc) => JSON.parse(doc).message_id),
      );
    });
  });
}

describe('claimers with skewed clocks', () => {
  it('16 claimers, half an hour ahead (faketime +1h) and two with DEIA_NOW a day ahead, never claim a message twice', async () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    const cfgPath = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.store.lock_stale_ms = 2000; // so a clock-based rule would take live locks over at once
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    expect(deia(['inbox', 'W', '--as', 'W'], { dir }).code).toBe(0);
    const N = 48;
    const body = Array.from({ length: N }, (_, i) => JSON.stringify({ to: 'W', body: `m${i}` })).join('\n');
    expect(deia(['send', '--as', 'S', '--stdin-jsonl'], { dir, input: body + '\n' }).code).toBe(0);
    const day = new Date(Date.now() + 24 * HOUR).toISOString();
    const claims = await Promise.all(
      Array.from({ length: 16 }, (_, i) => claimAll(dir, 'W', i === 1 || i === 3 ? { DEIA_NOW: day } : {}, i % 2 === 0)),
    );
    const all = claims.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(N);
  }, 180_000);
});
