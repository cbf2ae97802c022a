// Task commands with a long history against a short one (rule 4: cost follows the work).
// Two hives with the same open work (a few queued tasks, 30 assigned to BOT-A); one also holds
// 20,000 finished tasks in tasks.jsonl (within retention, so still in the file), the other 20.
// Both have an up-to-date state/tasks.json, as any task command that writes leaves it.
import fs from 'node:fs';
import path from 'node:path';
import { abCompare, deia, tempHive } from './lib.mjs';

export const title = 'tasks';

const OPEN_ASSIGNED = 30; // one `task start` per run: 2 warm-ups + 21 runs

function writeHive(hive, finished) {
  deia(['init', '--dir', hive]);
  const now = Date.now();
  const ts = (i) => new Date(now - 3_600_000 + i).toISOString();
  const lines = [];
  const rec = (r) => lines.push(JSON.stringify(r));
  for (let i = 0; i < finished; i++) {
    const id = `done-${String(i).padStart(8, '0')}-0000-0000-000000000000`;
    rec({ event: 'submitted', task_id: id, timestamp: ts(i), task_type: 'code', description: `finished task ${i}`, priority: 'P2', submitted_by: 'LEAD' });
    rec({ event: 'assigned', task_id: id, timestamp: ts(i), bot_id: 'BOT-A', attempt: 1, message_id: null });
    rec({ event: 'message', task_id: id, timestamp: ts(i), attempt: 1, message_id: `m-${i}` });
    rec({ event: 'started', task_id: id, timestamp: ts(i), bot_id: 'BOT-A' });
    rec({ event: 'done', task_id: id, timestamp: ts(i), bot_id: 'BOT-A', duration_ms: 1000, tokens: 10 });
  }
  for (let i = 0; i < 5; i++) {
    rec({ event: 'submitted', task_id: `queued-${i}`, timestamp: ts(finished + i), task_type: 'code', description: 'waiting', priority: 'P2', submitted_by: 'LEAD' });
  }
  for (let i = 0; i < OPEN_ASSIGNED; i++) {
    const id = `open-${String(i).padStart(4, '0')}`;
    rec({ event: 'submitted', task_id: id, timestamp: ts(finished + 10 + i), task_type: 'code', description: 'to start', priority: 'P2', submitted_by: 'LEAD' });
    rec({ event: 'assigned', task_id: id, timestamp: ts(finished + 10 + i), bot_id: 'BOT-A', attempt: 1, message_id: 'x' });
  }
  fs.writeFileSync(path.join(hive, 'tasks.jsonl'), lines.join('\n') + '\n');
  // One task command that writes brings the state up to date (a full fold, once).
  deia(['task', 'start', 'open-0000', '--as', 'BOT-A', '--dir', hive]);
}

export async function run() {
  const small = tempHive();
  const big = tempHive();
  const rows = [];
  try {
    writeHive(small.hive, 20);
    writeHive(big.hive, 20_000);
    const list = (h) => () => deia(['task', 'list', '--status', 'queued', '--dir', h]);
    const l = abCompare(list(small.hive), list(big.hive));
    rows.push({ name: 'task list --status queued, 20,000 finished tasks', baseline: '20 finished tasks', ...l, target: 1.3 });
    const next = { [small.hive]: 1, [big.hive]: 1 };
    const start = (h) => () => {
      const id = `open-${String(next[h]++).padStart(4, '0')}`;
      return deia(['task', 'start', id, '--as', 'BOT-A', '--dir', h]);
    };
    const s = abCompare(start(small.hive), start(big.hive));
    rows.push({ name: 'task start, 20,000 finished tasks', baseline: '20 finished tasks', ...s, target: 1.3 });
  } finally {
    small.cleanup();
    big.cleanup();
  }
  return rows;
}
