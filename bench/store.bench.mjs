// Store throughput in one process: single-record locked appends per second, and one
// batch of 10,000 records under one lock. Uses the built library (npm run build).
import path from 'node:path';
import { root, tempHive } from './lib.mjs';

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
  return rows;
}
