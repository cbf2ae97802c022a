// `deia health` on a store with 100,000 metric samples and 100,000 task records against the
// same command on an empty store, alternating A/B in one run. The machine measurement is
// switched off in both (its cpu sample is a fixed sleep that would hide the data path).
import fs from 'node:fs';
import path from 'node:path';
import { abCompare, deia, tempHive } from './lib.mjs';

export const title = 'health';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const N = 100_000;
const BOTS = 10;

function configure(hive) {
  deia(['init', '--dir', hive]);
  const p = path.join(hive, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(p, 'utf8'));
  cfg.health.measure_system = false;
  fs.writeFileSync(p, JSON.stringify(cfg, null, 2));
}

function fill(hive) {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const span = 14 * 60_000; // inside the default 15-minute window
  const metrics = [];
  const perf = [];
  for (let i = 0; i < N; i++) {
    const t = new Date(NOW - span + Math.floor((i / N) * span)).toISOString();
    const bot = `BOT-${String(i % BOTS).padStart(3, '0')}`;
    const metric = i % 2 ? 'cpu' : 'memory';
    metrics.push(JSON.stringify({ timestamp: t, metric, value: Math.round(rnd() * 600) / 10, bot }));
    perf.push(
      JSON.stringify({
        timestamp: t,
        bot_id: bot,
        task_type: 'code',
        success: rnd() > 0.005,
        duration_ms: Math.round(50 + rnd() * rnd() * 1500),
        tokens: 500,
        task_id: null,
      }),
    );
  }
  fs.writeFileSync(path.join(hive, 'metrics.jsonl'), metrics.join('\n') + '\n');
  fs.writeFileSync(path.join(hive, 'performance.jsonl'), perf.join('\n') + '\n');
}

export async function run() {
  const empty = tempHive();
  const full = tempHive();
  const env = { DEIA_NOW: new Date(NOW).toISOString() };
  try {
    configure(empty.hive);
    configure(full.hive);
    fill(full.hive);
    const v = abCompare(
      () => deia(['health', '--dir', empty.hive], env, { allowFail: true }),
      () => deia(['health', '--dir', full.hive], env, { allowFail: true }),
    );
    return [{ name: `deia health, ${N} samples + ${N} task records`, baseline: 'deia health, empty store', ...v, target: 1.5 }];
  } finally {
    empty.cleanup();
    full.cleanup();
  }
}
