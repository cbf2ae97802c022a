// Storage backends side by side: claims per second with 8 claimer processes on one queue, the
// time of `deia send`, `record` and `recommend` against `node -e 0`, and the change signal's
// wake-up (enqueue in one process -> claimed by a waiting process), for the file backend and
// PostgreSQL. Uses the built library (npm run build). PostgreSQL: DEIA_TEST_PG_URL
// when set, else a throwaway server started (and stopped) with scripts/pg-throwaway.sh.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { abCompare, deia, freshDb, nodeBaseline, root, startPg, tempHive } from './lib.mjs';

export const title = 'storage';
const WORKER = path.join(root, 'bench/storage-worker.mjs');
const CLAIMERS = 8;

function proc(args) {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let waiters = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    lines.push(...parts);
    for (const w of waiters) w();
  });
  const waitFor = (pred) =>
    new Promise((resolve) => {
      const check = () => {
        const l = lines.find(pred);
        if (l !== undefined) {
          waiters = waiters.filter((w) => w !== check);
          resolve(l);
        }
      };
      waiters.push(check);
      check();
    });
  return { child, lines, waitFor };
}

async function claimRate(openBackend, where, items) {
  const b = await openBackend(where);
  const all = Array.from({ length: items }, (_, i) => ({ id: `m${i}`, priority: i % 4, payload: { i, body: 'x'.repeat(100) } }));
  for (let i = 0; i < items; i += 1000) await b.queues.enqueue('hot', all.slice(i, i + 1000));
  await b.close();
  const ps = Array.from({ length: CLAIMERS }, () => proc(['claim', where, 'hot']));
  await Promise.all(ps.map((p) => p.waitFor((l) => l === 'ready')));
  const t0 = performance.now();
  for (const p of ps) p.child.stdin.end('go\n');
  const done = await Promise.all(ps.map((p) => p.waitFor((l) => l.startsWith('done '))));
  const secs = (performance.now() - t0) / 1000;
  const total = done.reduce((s, l) => s + Number(l.split(' ')[1]), 0);
  if (total !== items) throw new Error(`claimed ${total} of ${items}`);
  return items / secs;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function wakeLatency(openBackend, where, rounds = 40) {
  const b = await openBackend(where);
  const w = proc(['wait', where, 'sig']);
  await w.waitFor((l) => l === 'ready');
  const lat = [];
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.timeOrigin + performance.now();
    await b.queues.enqueue('sig', [{ id: `w${i}`, priority: 1, payload: null }]);
    const got = await w.waitFor((l) => l.startsWith(`got w${i} `));
    lat.push(Number(got.split(' ')[2]) - t0);
  }
  w.child.stdin.end();
  await b.close();
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

/**
 * `deia record` and `deia recommend` start to exit against `node -e 0`, on a hive that already holds
 * 200 outcomes of 4 bots: on PostgreSQL each is one connection and one transaction.
 */
function routingCommands(stores) {
  const rows = [];
  const outcomes = Array.from({ length: 200 }, (_, i) => JSON.stringify({ bot: `BENCH-${i % 4}`, type: 'code', success: i % 3 !== 0, duration_ms: 1000 + i })).join('\n');
  for (const [name, store, target] of stores) {
    deia([...store, 'record', '--stdin-jsonl'], {}, { input: outcomes });
    let n = 0;
    const rec = abCompare(nodeBaseline, () => deia([...store, 'record', `BENCH-${n++ % 4}`, 'code', '--success', '--duration', '2s']));
    rows.push({ name: `deia record (one outcome): ${name}`, baseline: 'node -e 0', ...rec, target });
    const pick = abCompare(nodeBaseline, () => deia([...store, 'recommend', 'code', '--json'], {}, { allowFail: false }));
    rows.push({ name: `deia recommend (4 bots, 200+ outcomes): ${name}`, baseline: 'node -e 0', ...pick, target });
  }
  return rows;
}

export async function run() {
  const { openBackend } = await import(path.join(root, 'dist/lib/index.mjs'));
  const pg = startPg();
  const rows = [];
  try {
    const file = tempHive();
    const db = await freshDb(pg.url);
    try {
      (await openBackend(db.url, { migrate: true })).close();
      const fileRate = await claimRate(openBackend, file.hive, 2000);
      const pgRate = await claimRate(openBackend, db.url, 8000);
      rows.push({ name: `claims/s, ${CLAIMERS} claimer processes, one queue: file backend (2,000 items)`, value: fileRate, unit: 'claims/s' });
      rows.push({ name: `claims/s, ${CLAIMERS} claimer processes, one queue: PostgreSQL (8,000 items)`, value: pgRate, unit: 'claims/s' });
      rows.push({ name: 'claims/s PostgreSQL vs file backend', baseline: 'file backend', a: 1000 / fileRate, b: 1000 / pgRate, ratio: fileRate / pgRate, target: 1 });
      // `deia send` start to exit, against `node -e 0`; PostgreSQL adds loading the driver and a connection.
      // The same commands on a new folder (the default: the storage interface's layout, named by --dir alone).
      const iface = tempHive();
      deia(['--dir', iface.hive, 'init']);
      const stores = [['new folder (default layout)', ['--dir', iface.hive], 1.3], ['PostgreSQL', ['--store', db.url], 2]];
      for (const [name, store, target] of stores) {
        deia([...store, 'inbox', '--as', 'BENCH-B']);
        let n = 0;
        const r = abCompare(nodeBaseline, () => deia([...store, 'send', 'BENCH-B', `hello ${n++}`, '--as', 'BENCH-A']));
        rows.push({ name: `deia send (one message): ${name}`, baseline: 'node -e 0', ...r, target });
      }
      rows.push(...routingCommands(stores));
      iface.cleanup();
      for (const [name, where] of [['file backend', file.hive], ['PostgreSQL', db.url]]) {
        const l = await wakeLatency(openBackend, where);
        rows.push({ name: `wake-up, enqueue in one process -> claimed by a waiting one, p50: ${name}`, value: l.p50, unit: 'ms', target: 20, targetKind: 'max' });
        rows.push({ name: `wake-up, enqueue in one process -> claimed by a waiting one, p99: ${name}`, value: l.p99, unit: 'ms', target: 60, targetKind: 'max' });
      }
    } finally {
      file.cleanup();
      await db.drop();
    }
  } finally {
    pg.stop();
  }
  return rows;
}
