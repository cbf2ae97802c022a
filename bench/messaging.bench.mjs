// Messaging speed: send / inbox start-up against `node -e 0`, inbox cost on a big store
// against a tiny one, and batch send throughput.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { abCompare, deia, deiaBin, nodeBaseline, tempHive } from './lib.mjs';

export const title = 'messaging';

function cli(args, input, env = {}) {
  const r = spawnSync(process.execPath, [deiaBin, ...args], {
    input,
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.toString();
}

const jsonl = (n, to, body = (i) => `message number ${i} with a little text in it`) => {
  let s = '';
  for (let i = 0; i < n; i++) s += JSON.stringify({ to: to(i), body: body(i), priority: `P${i % 4}` }) + '\n';
  return s;
};

export async function run() {
  const rows = [];
  const small = tempHive();
  const big = tempHive();
  try {
    // ---- send and inbox start-up
    cli(['init', '--dir', small.hive]);
    cli(['register', 'BOT-A', '--dir', small.hive]);
    cli(['register', 'BOT-B', '--dir', small.hive]);
    cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', small.hive], jsonl(10, () => 'BOT-A'));
    let n = 0;
    const send = abCompare(nodeBaseline, () => deia(['send', 'BOT-B', `hello ${n++}`, '--as', 'BOT-Z', '--dir', small.hive]));
    rows.push({ name: 'deia send (one message)', baseline: 'node -e 0', ...send, target: 1.3 });
    const inboxSmall = abCompare(nodeBaseline, () => deia(['inbox', 'BOT-A', '--dir', small.hive]));
    rows.push({ name: 'deia inbox (10 messages)', baseline: 'node -e 0', ...inboxSmall, target: 1.3 });

    // ---- scale: 100,000 messages to other bots, 20,000 read and compacted of BOT-A's
    cli(['init', '--dir', big.hive]);
    fs.writeFileSync(
      path.join(big.hive, 'config.json'),
      JSON.stringify({ messaging: { read_retention_hours: 0 } }, null, 2),
    );
    const others = 20;
    for (let b = 0; b < others; b++) cli(['register', `OTHER-${b}`, '--dir', big.hive]);
    cli(['register', 'BOT-A', '--dir', big.hive]);
    for (let k = 0; k < 10; k++) {
      cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', big.hive], jsonl(10_000, (i) => `OTHER-${(i + k) % others}`));
    }
    for (let k = 0; k < 2; k++) {
      cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', big.hive], jsonl(10_000, () => 'BOT-A'));
      cli(['inbox', 'BOT-A', '--mark-read', '--json', '--dir', big.hive]);
    }
    const t1 = String(Date.now() + 3_600_000);
    cli(['cleanup', '--dir', big.hive], '', { DEIA_NOW: t1 });
    cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', big.hive], jsonl(10, () => 'BOT-A'));
    const scale = abCompare(
      () => deia(['inbox', 'BOT-A', '--dir', small.hive]),
      () => deia(['inbox', 'BOT-A', '--dir', big.hive]),
    );
    rows.push({ name: 'deia inbox BOT-A, 100k other + 20k compacted', baseline: 'same, 10 messages', ...scale, target: 1.2 });

    // ---- throughput of one batch (a fresh hive each round: 10 recipients, 1,000 each)
    const batch = jsonl(10_000, (i) => `R-${i % 10}`);
    const times = [];
    for (let r = 0; r < 5; r++) {
      const h = tempHive();
      try {
        cli(['init', '--dir', h.hive]);
        for (let b = 0; b < 10; b++) cli(['register', `R-${b}`, '--dir', h.hive]);
        const t0 = process.hrtime.bigint();
        const out = cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', h.hive], batch);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (out.split('\n').length !== 10_001) throw new Error('batch did not print 10,000 ids');
      } finally {
        h.cleanup();
      }
    }
    times.sort((a, b) => a - b);
    const med = times[times.length >> 1];
    rows.push({ name: 'send --stdin-jsonl 10,000 messages (end to end)', b: med, value: 10_000 / (med / 1000), unit: 'msg/s', target: 20_000, targetKind: 'min', pass: 10_000 / (med / 1000) >= 20_000 });
    rows.push(markReadRow());
  } finally {
    small.cleanup();
    big.cleanup();
  }
  return rows;
}

/** `inbox --mark-read` of 10,000 unread messages against 1,000: cost follows the messages (linear: about 10x). */
function markReadRow() {
  const once = (n) => {
    const h = tempHive();
    try {
      cli(['init', '--dir', h.hive]);
      cli(['register', 'BOT-A', '--dir', h.hive]);
      cli(['send', '--stdin-jsonl', '--as', 'BOT-Z', '--dir', h.hive], jsonl(n, () => 'BOT-A'));
      const t0 = process.hrtime.bigint();
      const out = JSON.parse(cli(['inbox', 'BOT-A', '--mark-read', '--json', '--dir', h.hive]));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (out.length !== n || out.some((m) => m.status !== 'read')) throw new Error(`mark-read of ${n}: not all read`);
      return ms;
    } finally {
      h.cleanup();
    }
  };
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const a = median([once(1000), once(1000), once(1000)]);
  const b = median([once(10_000), once(10_000), once(10_000)]);
  return { name: 'deia inbox --mark-read: 10,000 unread messages', baseline: 'same, 1,000', a, b, ratio: b / a, runs: 3, target: 15 };
}
