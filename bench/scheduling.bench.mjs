// `deia recommend` with 100,000 recorded outcomes against the same with 100 (issue 4: ≤ 1.2×).
// Both hives hold the same bots and task types; the state is folded before timing starts.
import { spawnSync } from 'node:child_process';
import { abCompare, deia, deiaBin, nodeBaseline, tempHive } from './lib.mjs';

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

/**
 * 500 bots × 70 task types (issue 14.6), two outcomes each spread over the last day: `recommend`
 * reads the state index and the one type document asked about, not the other 69.
 */
function fillWide(hive) {
  const t0 = Date.now() - 24 * 3_600_000;
  const lines = [];
  let i = 0;
  for (let k = 0; k < 70; k++)
    for (let b = 0; b < 500; b++)
      for (let rep = 0; rep < 2; rep++, i++)
        lines.push(
          JSON.stringify({
            bot_id: `BOT-${b}`,
            task_type: `type-${k}`,
            success: (i * 7919) % 10 < 7,
            duration_ms: 1000 + ((i * 31) % 5000),
            tokens: 100 + (i % 900),
            timestamp: new Date(t0 + i * 1000).toISOString(),
          }),
        );
  for (let start = 0; start < lines.length; start += 20_000) {
    const r = spawnSync(process.execPath, [deiaBin, 'record', '--stdin-jsonl', '--dir', hive], { input: lines.slice(start, start + 20_000).join('\n'), stdio: ['pipe', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`);
  }
  deia(['recommend', 'type-7', '--dir', hive]); // fold everything before timing
}

export async function run() {
  const small = tempHive();
  const large = tempHive();
  const wide = tempHive();
  try {
    fill(small.hive, 100);
    fill(large.hive, 100_000);
    const v = abCompare(
      () => deia(['recommend', 'code', '--dir', small.hive]),
      () => deia(['recommend', 'code', '--dir', large.hive]),
    );
    fillWide(wide.hive);
    const w = abCompare(
      () => nodeBaseline(),
      () => deia(['recommend', 'type-7', '--json', '--dir', wide.hive]),
    );
    return [
      { name: 'recommend, 100,000 outcomes', baseline: 'recommend, 100 outcomes', ...v, target: 1.2 },
      { name: 'recommend, 500 bots × 70 types', baseline: 'node -e 0', ...w, target: 1.3 },
    ];
  } finally {
    small.cleanup();
    large.cleanup();
    wide.cleanup();
  }
}
