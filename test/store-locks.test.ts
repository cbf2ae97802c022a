import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, tempHive } from './helpers/cli.js';
import { makeFolderLayout } from './helpers/folder-layout.js';

/**
 * Lock staleness never trusts a process's clock (issue 12.5): a holder on this host is judged by
 * its pid, any other lock by its heartbeat against the file system's clock, and a heartbeat in
 * the future is broken, not live.
 */
import { FUTURE_TOLERANCE_MS, judgeLock } from '../src/store/lock.js';

const { Store } = await import(process.env.DEIA_TEST_LIB!);
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/store-worker.mjs');
const HOUR = 3_600_000;

function shift(p: string, ms: number): void {
  const t = new Date(Date.now() + ms);
  fs.utimesSync(p, t, t);
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
  it('a lock folder stamped an hour in the future is taken over within the stale window, and doctor calls it broken', async () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    const lock = path.join(dir, 'outbox.jsonl.lock');
    fs.mkdirSync(lock);
    shift(lock, HOUR);
    const doc = deia(['doctor', '--json'], { dir });
    const p = JSON.parse(doc.stdout).problems.find((x: any) => x.kind === 'stale_lock');
    expect(p).toMatchObject({ path: 'outbox.jsonl.lock' });
    expect(p.detail).toMatch(/in the future/);

    const store = new Store(dir, { lock: { staleMs: 5000, maxWaitMs: 12000 } });
    const t0 = Date.now();
    await store.append('outbox.jsonl', [{ x: 1 }]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.existsSync(lock)).toBe(false);
  });

  // These lock folders (metrics, tasks, bots) are taken in both layouts: cleanup judges them alike on
  // the new default and on a 0.1 folder.
  it.each(['new', 'folder'] as const)('cleanup removes a future-stamped lock and a dead holder\'s lock, and keeps a live holder\'s however old it looks (%s layout)', async (layout) => {
    const { dir } = tempHive();
    if (layout === 'folder') makeFolderLayout(dir);
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(layout === 'new');
    const future = path.join(dir, 'metrics.jsonl.lock');
    fs.mkdirSync(future);
    shift(future, HOUR);
    // A holder on this host whose process is gone: stale at once, though just written.
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((r) => dead.on('exit', () => r(dead.pid!)));
    const deadLock = path.join(dir, 'tasks.jsonl.lock');
    fs.mkdirSync(deadLock);
    fs.writeFileSync(path.join(deadLock, 'owner'), JSON.stringify({ pid: deadPid, host: os.hostname(), ns: fs.readlinkSync('/proc/self/ns/pid'), token: 'x' }));

    const holder = spawn(process.execPath, [WORKER, 'hold', dir, 'bots.jsonl', '0'], { env: process.env });
    try {
      await new Promise<void>((resolve) => {
        holder.stdout.on('data', (d) => String(d).includes('locked') && resolve());
      });
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
      const store = new Store(dir, { lock: { staleMs: 1000, maxWaitMs: 1500 } });
      await expect(store.append('bots.jsonl', [{ x: 1 }])).rejects.toThrow(new RegExp(`stayed locked by pid ${holder.pid}`));
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
