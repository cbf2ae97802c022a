// `deia cleanup` compacting a large inbox (peak RSS, linearity) and `send` throughput
// under contention (8 processes × 100 sends against the same 800 one after another).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deiaBin, median, root, tempHive } from './lib.mjs';

export const title = 'maintenance';

const BIG = Number(process.env.BENCH_MAILBOX_LINES ?? 500_000);
const SMALL = Math.round(BIG / 10);
const SENDERS = 8;
const SENDS = Number(process.env.BENCH_SENDS ?? 100);
const env = { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' };

function hasCommand(name) {
  const r = spawnSync(process.execPath, [deiaBin, '--help'], { encoding: 'utf8', env });
  return new RegExp(`^  ${name}\\b`, 'm').test(r.stdout);
}

/**
 * A new folder whose inbox queue file holds about `lines` lines as the file backend writes them:
 * one item event per message, and a claim event (`inbox --next`, no lease: read) for 60% of
 * them, read long ago (so compaction drops them); written in chunks, never held in memory.
 */
function buildHive(lines) {
  const h = tempHive('deia-bench-compact-');
  spawnSync(process.execPath, [deiaBin, 'init', '--dir', h.hive], { env });
  spawnSync(process.execPath, [deiaBin, 'register', 'BOT-1', '--dir', h.hive], { env });
  const file = path.join(h.hive, 'queues/inbox.BOT-1.jsonl');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w', 0o644);
  const messages = Math.round(lines / 1.6);
  const old = Date.parse('2020-01-01T00:00:00Z');
  let buf = '';
  let written = 0;
  for (let i = 0; i < messages; i++) {
    const at = new Date(old + i * 1000).toISOString();
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const m = {
      message_id: id, from_bot: `BOT-${2 + (i % 5)}`, to_bot: 'BOT-1', content: `status update number ${i}: all tests are green`,
      subject: null, priority: ['P0', 'P1', 'P2', 'P3'][i % 4], status: 'delivered', created_at: at, delivered_at: at, read_at: null,
      retry_count: 0, max_retries: 3, ttl_seconds: 3600, expires_at: at, next_attempt_at: null, last_error: null, reply_to: null, metadata: {},
      claim_count: 0, claimed_by: null, lease_expires_at: null,
    };
    buf += JSON.stringify({ t: 'item', id, priority: i % 4, created_at: old + i * 1000, payload: m }) + '\n';
    written++;
    if (i % 5 < 3 && written < lines) {
      buf += JSON.stringify({ t: 'claim', id, at: old + i * 1000 + 500, by: 'BOT-1' }) + '\n';
      written++;
    }
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return { ...h, file, bytes: fs.statSync(file).size };
}

/** Wall time and peak RSS (KiB) of one `deia cleanup`, through /usr/bin/time -v when present. */
function timedCleanup(hive) {
  const useTime = fs.existsSync('/usr/bin/time');
  const cmd = useTime ? '/usr/bin/time' : process.execPath;
  const args = useTime ? ['-v', process.execPath, deiaBin, 'cleanup', '--dir', hive, '--json'] : [deiaBin, 'cleanup', '--dir', hive, '--json'];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`cleanup exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const res = JSON.parse(r.stdout);
  if (!res.compaction || res.compaction.dropped === 0) throw new Error(`cleanup compacted nothing: ${r.stdout.slice(0, 500)}`);
  return { ms, rssKiB: m ? Number(m[1]) : undefined, dropped: res.compaction.dropped };
}

function compaction(lines, runs) {
  const times = [];
  let rss = 0;
  let dropped = 0;
  for (let i = 0; i < runs; i++) {
    const h = buildHive(lines);
    try {
      const r = timedCleanup(h.hive);
      times.push(r.ms);
      rss = Math.max(rss, r.rssKiB ?? 0);
      dropped = r.dropped;
    } finally {
      h.cleanup();
    }
  }
  return { ms: median(times), rssKiB: rss, dropped };
}

/** The store alone: store.rewrite dropping 60% of a generic JSONL file, in a child process. */
function storeRewrite(lines) {
  const h = tempHive('deia-bench-rewrite-');
  try {
    fs.mkdirSync(h.hive, { recursive: true });
    const fd = fs.openSync(path.join(h.hive, 'big.jsonl'), 'w');
    let buf = '';
    for (let i = 0; i < lines; i++) {
      buf += JSON.stringify({ i, keep: i % 5 >= 3, body: `record ${i} with some text to make it realistic`, at: new Date(i * 1000).toISOString() }) + '\n';
      if (buf.length > 1 << 20) {
        fs.writeSync(fd, buf);
        buf = '';
      }
    }
    fs.writeSync(fd, buf);
    fs.closeSync(fd);
    const lib = path.join(root, 'dist/lib/index.mjs');
    const script = `const { Store } = await import(${JSON.stringify(lib)}); const s = new Store(${JSON.stringify(h.hive)});
      const st = await s.rewrite('big.jsonl', async function* (rs) { for await (const r of rs) if (r.keep) yield r; });
      if (st.read !== ${lines}) throw new Error('read ' + st.read);`;
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-v', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(r.stderr.slice(-1000));
    return { ms, rssKiB: Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? 0) };
  } finally {
    h.cleanup();
  }
}

function sendLoop(hive, from, n, tag) {
  return new Promise((resolve, reject) => {
    let i = 0;
    const next = () => {
      if (i === n) return resolve();
      const child = spawn(process.execPath, [deiaBin, 'send', '--dir', hive, '--as', from, 'BOT-0', `${tag} ${i++}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? next() : reject(new Error(`send exited ${code}: ${err.trim()}`))));
    };
    next();
  });
}

async function contention() {
  const h = tempHive('deia-bench-send-');
  try {
    spawnSync(process.execPath, [deiaBin, 'init', '--dir', h.hive], { env });
    spawnSync(process.execPath, [deiaBin, 'register', 'BOT-0', '--dir', h.hive], { env });
    let t0 = performance.now();
    await sendLoop(h.hive, 'BOT-1', SENDERS * SENDS, 'seq');
    const seq = performance.now() - t0;
    t0 = performance.now();
    await Promise.all(Array.from({ length: SENDERS }, (_, k) => sendLoop(h.hive, `BOT-${k + 1}`, SENDS, 'par')));
    const par = performance.now() - t0;
    return { seq, par };
  } finally {
    h.cleanup();
  }
}

export async function run() {
  const rows = [];
  if (hasCommand('cleanup')) {
    const small = compaction(SMALL, 3);
    const big = compaction(BIG, 2);
    process.stderr.write(`  compaction: ${SMALL} lines ${small.ms.toFixed(0)} ms, ${BIG} lines ${big.ms.toFixed(0)} ms (dropped ${big.dropped})\n`);
    rows.push({ name: `cleanup compacting a ${BIG}-line inbox vs ${SMALL}`, baseline: `${SMALL} lines`, a: small.ms, b: big.ms, ratio: big.ms / small.ms, target: 12 });
    if (big.rssKiB) {
      const mib = big.rssKiB / 1024;
      rows.push({ name: `cleanup peak RSS, ${BIG}-line inbox`, value: mib, unit: 'MiB', target: 150, targetKind: 'max', pass: mib <= 150 });
    }
  }
  if (fs.existsSync('/usr/bin/time') && fs.existsSync(path.join(root, 'dist/lib/index.mjs'))) {
    const small = storeRewrite(SMALL);
    const big = storeRewrite(BIG);
    process.stderr.write(`  store.rewrite: ${SMALL} lines ${small.ms.toFixed(0)} ms, ${BIG} lines ${big.ms.toFixed(0)} ms, ${(big.rssKiB / 1024).toFixed(0)} MiB\n`);
    rows.push({ name: `store.rewrite compacting ${BIG} generic lines vs ${SMALL}`, baseline: `${SMALL} lines`, a: small.ms, b: big.ms, ratio: big.ms / small.ms, target: 12 });
    rows.push({ name: `store.rewrite peak RSS, ${BIG} lines`, value: big.rssKiB / 1024, unit: 'MiB', target: 150, targetKind: 'max', pass: big.rssKiB / 1024 <= 150 });
  }
  if (hasCommand('send')) {
    const c = await contention();
    process.stderr.write(`  send: ${SENDERS * SENDS} sequential ${c.seq.toFixed(0)} ms, ${SENDERS}×${SENDS} concurrent ${c.par.toFixed(0)} ms\n`);
    rows.push({ name: `${SENDERS} processes × ${SENDS} send, concurrent vs sequential`, baseline: `${SENDERS * SENDS} sequential`, a: c.seq, b: c.par, ratio: c.par / c.seq, target: 0.8 });
  } else {
    process.stderr.write('  send is not there yet: contention row skipped\n');
  }
  return rows;
}
