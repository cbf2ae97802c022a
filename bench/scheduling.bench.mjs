// `deia recommend` with 100,000 recorded outcomes against the same with 100 (issue 4: ≤ 1.2×).
// Both hives hold the same bots and task types; the state is folded before timing starts.
import { spawnSync } from 'node:child_process';
import { abCompare, deia, deiaBin, tempHive } from './lib.mjs';

export const title = 'routing';

const TYPES = ['code', 'analysis', 'writing', 'planning', 'testing', 'documentation', 'other'];

function fill(hive, n) {
  const bots = ['BOT-1', 'BOT-2', 'BOT-3', 'BOT-4', 'BOT-5'];
  for (const b of bots) deia(['register', b, '--dir', hive]);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const chunk = 20_000;
  for (let start = 0; start < n; start += chunk) {
    const lines = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      lines.push(
        JSON.stringify({
          bot_id: bots[i % bots.length],
          task_type: TYPES[i % TYPES.length],
          success: (i * 7919) % 10 < 7,
          duration_ms: 1000 + ((i * 31) % 5000),
          tokens: 100 + (i % 900),
          timestamp: new Date(t0 + i * 1000).toISOString(),
        }),
      );
    }
    const r = spawnSync(process.execPath, [deiaBin, 'record', '--stdin-jsonl', '--dir', hive], { input: lines.join('\n'), stdio: ['pipe', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`);
  }
  deia(['recommend', 'code', '--dir', hive]); // fold everything before timing
}

export async function run() {
  const small = tempHive();
  const large = tempHive();
  try {
    fill(small.hive, 100);
    fill(large.hive, 100_000);
    const v = abCompare(
      () => deia(['recommend', 'code', '--dir', small.hive]),
      () => deia(['recommend', 'code', '--dir', large.hive]),
    );
    return [{ name: 'recommend, 100,000 outcomes', baseline: 'recommend, 100 outcomes', ...v, target: 1.2 }];
  } finally {
    small.cleanup();
    large.cleanup();
  }
}
