// Shared helpers for benchmarks: timing child processes, medians, temp hives.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const deiaBin = path.join(root, 'bin/deia.js');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function tempHive(prefix = 'deia-bench-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, hive: path.join(dir, '.deia'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Wall time of one child process, in ms. Throws if it fails. */
export function timeProcess(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return ms;
}

/**
 * Alternate A and B runs (so drift and noise hit both alike) and compare medians.
 * Returns { a, b, ratio } with medians in ms.
 */
export function abCompare(runA, runB, runs = 21, warmup = 2) {
  for (let i = 0; i < warmup; i++) {
    runA(-1);
    runB(-1);
  }
  const as = [];
  const bs = [];
  for (let i = 0; i < runs; i++) {
    as.push(runA(i));
    bs.push(runB(i));
  }
  const a = median(as);
  const b = median(bs);
  return { a, b, ratio: b / a, runs };
}

export function nodeBaseline() {
  return timeProcess(process.execPath, ['-e', '0']);
}

export function deia(args, env = {}, opts = {}) {
  return timeProcess(process.execPath, [deiaBin, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, ...opts });
}

/**
 * Instructions executed by one child process (valgrind's callgrind, "Collected" = Ir): unlike
 * wall time they do not move with the machine's load. Callgrind runs ~50x slower, so one run
 * each. Returns millions of instructions, or null when valgrind is not installed.
 */
export function instructions(cmd, args, opts = {}) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', cmd, ...args], {
    stdio: ['pipe', 'ignore', 'pipe'],
    encoding: 'utf8',
    ...opts,
  });
  if (r.error) return null;
  const m = /Collected\s*:\s*(\d+)/.exec(r.stderr);
  if (!m) throw new Error(`callgrind gave no count for ${cmd} ${args.join(' ')}: ${r.stderr.slice(-500)}`);
  return Number(m[1]) / 1e6;
}

/** Instructions of `deia ARGS` against `node -e 0`, one run each: a bench row. */
export function instructionRow(name, args, target, env = {}) {
  const a = instructions(process.execPath, ['-e', '0']);
  if (a === null) return { name: `${name} [instructions: valgrind not installed]`, baseline: 'node -e 0' };
  const b = instructions(process.execPath, [deiaBin, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
  return { name: `${name} [M instructions]`, baseline: 'node -e 0', a, b, ratio: b / a, runs: 1, target };
}

/** PostgreSQL for a bench: DEIA_TEST_PG_URL when set, else a throwaway server (scripts/pg-throwaway.sh) that stop() removes. */
export function startPg() {
  if (process.env.DEIA_TEST_PG_URL) return { url: process.env.DEIA_TEST_PG_URL, stop: () => undefined };
  const text = execFileSync('bash', [path.join(root, 'scripts/pg-throwaway.sh'), 'start'], { encoding: 'utf8' });
  const env = Object.fromEntries([...text.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
  return { url: env.DEIA_TEST_PG_URL, stop: () => execFileSync('bash', [path.join(root, 'scripts/pg-throwaway.sh'), 'stop', env.DEIA_TEST_PG_DIR]) };
}

/** A new database on that server, with its URL and drop(). */
export async function freshDb(adminUrl) {
  const { default: pg } = await import('pg');
  const name = `deia_bench_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(adminUrl);
  u.pathname = '/' + name;
  return {
    url: u.toString(),
    drop: async () => {
      const d = new pg.Client({ connectionString: adminUrl });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}
