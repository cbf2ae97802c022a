// Store throughput in one process: single-record locked appends per second, and one
// batch of 10,000 records under one lock. Uses the built library (npm run build).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deiaBin, median, root, tempHive } from './lib.mjs';

export const title = 'store';

export async function run() {
  const { Store } = await import(path.join(root, 'dist/lib/index.mjs'));
  const h = tempHive();
  const rows = [];
  try {
    const store = new Store(h.hive);
    const rec = (i) => ({ timestamp: new Date().toISOString(), event: 'bench', i, body: 'x'.repeat(100) });
    await store.append('warm.jsonl', [rec(0)]);
    const n = 2000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await store.append('single.jsonl', [rec(i)]);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    rows.push({ name: `${n} single-record locked appends`, value: n / secs, unit: 'appends/s', target: 1500, targetKind: 'min' });

    const batch = Array.from({ length: 10_000 }, (_, i) => rec(i));
    const times = [];
    for (let k = 0; k < 5; k++) {
      const t1 = process.hrtime.bigint();
      await store.append(`batch-${k}.jsonl`, batch);
      times.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
    times.sort((a, b) => a - b);
    rows.push({ name: 'batch of 10,000 records under one lock (median of 5)', value: times[2], unit: 'ms', target: 100, targetKind: 'max' });
  } finally {
    h.cleanup();
  }
  rows.push(...longLineRows());
  return rows;
}

/**
 * One very long line (a message whose body is MB long) read by `doctor` and rewritten by
 * `cleanup`: time must grow with the bytes (50 MB vs 5 MB: about 10x, target at most 12x),
 * not with their square, and memory stays a small multiple of the line. The line is an item of
 * BOT-1's inbox queue in a new folder, beside a short message read long ago that cleanup's
 * compaction drops: so it rewrites the queue file, long line and all.
 */
function longLineRows() {
  const env = { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' };
  const hiveWith = (mb) => {
    const h = tempHive('deia-bench-longline-');
    spawnSync(process.execPath, [deiaBin, 'init', '--dir', h.hive], { env });
    spawnSync(process.execPath, [deiaBin, 'register', 'BOT-1', '--dir', h.hive], { env });
    const now = Date.now();
    const old = Date.parse('2020-01-01T00:00:00Z');
    const msg = (id, content, at) => ({
      message_id: id, from_bot: 'A', to_bot: 'BOT-1', content, subject: null, priority: 'P2', status: 'delivered',
      created_at: new Date(at).toISOString(), delivered_at: new Date(at).toISOString(), read_at: null, retry_count: 0, max_retries: 3,
      ttl_seconds: 3600, expires_at: new Date(at + 3_600_000).toISOString(), next_attempt_at: null, last_error: null, reply_to: null,
      metadata: {}, claim_count: 0, claimed_by: null, lease_expires_at: null,
    });
    const item = (m, at) => JSON.stringify({ t: 'item', id: m.message_id, priority: 2, created_at: at, payload: m }) + '\n';
    const longId = '00000000-0000-4000-8000-000000000001';
    const shortId = '00000000-0000-4000-8000-000000000002';
    const file = path.join(h.hive, 'queues/inbox.BOT-1.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(
      file,
      item(msg(shortId, 'hi', old), old) + JSON.stringify({ t: 'claim', id: shortId, at: old + 1000, by: 'BOT-1' }) + '\n' + item(msg(longId, 'x'.repeat(mb << 20), now), now),
    );
    return h;
  };
  // Runs the CLI in a child that reports its own peak RSS (in KB) on exit.
  const probe = `process.on('exit', () => process.stderr.write('\\nmaxrss=' + process.resourceUsage().maxRSS + '\\n'));` +
    `process.argv = [process.argv[0], ${JSON.stringify(deiaBin)}, ...process.argv.slice(1)]; await import(${JSON.stringify(deiaBin)});`;
  const timed = (args) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
    // doctor exits 1 when it finds a problem (the planted messages have no audit lines); cleanup must succeed.
    if (r.status !== 0 && (r.status !== 1 || args[0] !== 'doctor')) throw new Error(`deia ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (args[0] === 'cleanup' && !(JSON.parse(r.stdout).compaction?.dropped >= 1)) throw new Error(`cleanup compacted nothing: ${r.stdout.slice(0, 500)}`);
    return { ms, rss };
  };
  const rows = [];
  for (const cmd of ['doctor', 'cleanup']) {
    const res = {};
    for (const mb of [5, 50]) {
      const runs = [];
      for (let k = 0; k < 3; k++) {
        const h = hiveWith(mb);
        try {
          runs.push(timed([cmd, '--dir', h.hive, '--json']));
        } finally {
          h.cleanup();
        }
      }
      res[mb] = { ms: median(runs.map((r) => r.ms)), rss: Math.max(...runs.map((r) => r.rss)) };
    }
    rows.push({ name: `${cmd}: one 50 MB line vs one 5 MB line`, baseline: '5 MB line', a: res[5].ms, b: res[50].ms, ratio: res[50].ms / res[5].ms, target: 12, targetKind: 'max' });
    rows.push({ name: `${cmd}: peak RSS with one 50 MB line`, value: res[50].rss, unit: 'MB', target: 400, targetKind: 'max' });
  }
  return rows;
}
