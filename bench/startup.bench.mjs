// Start-up of the CLI against bare `node -e 0`: wall time alternating A/B in the same run
// (21 runs each), and instructions counted by callgrind (one run each, immune to load).
// Every everyday command is measured with its human output (tables), as a person sees it.
import { abCompare, deia, instructionRow, nodeBaseline, tempHive } from './lib.mjs';

export const title = 'start-up';

/** A hive with a little of everything: mail, outcomes, tasks. */
function seed(d) {
  deia(['init', ...d]);
  for (const b of ['BOT-A', 'BOT-B']) deia(['register', b, ...d]);
  for (let i = 0; i < 5; i++) deia(['send', 'BOT-B', `message ${i}`, '--as', 'BOT-A', ...d]);
  for (let i = 0; i < 6; i++) deia(['record', i % 2 ? 'BOT-A' : 'BOT-B', 'code', '--success', '--duration', '2s', ...d]);
  for (let i = 0; i < 3; i++) deia(['task', 'submit', 'code', `task ${i}`, '--as', 'LEAD', ...d]);
}

export async function run() {
  const h = tempHive();
  const rows = [];
  const d = ['--dir', h.hive];
  try {
    seed(d);
    let n = 0;
    // health exits 1-3 by level (this machine's load decides): only its cost is measured here.
    const everyday = [
      ['deia --version', () => ['--version']],
      ['deia register (lock + append)', () => ['register', `B-${n++}`, ...d]],
      ['deia send', () => ['send', 'BOT-B', 'tests are green', '--as', 'BOT-A', ...d]],
      ['deia inbox (table)', () => ['inbox', 'BOT-B', '--limit', '5', ...d]],
      ['deia inbox --json', () => ['inbox', 'BOT-B', '--limit', '5', '--json', ...d]],
      ['deia status (tables)', () => ['status', ...d]],
      ['deia recommend code (table)', () => ['recommend', 'code', ...d]],
      ['deia health (table)', () => ['health', ...d], { allowFail: true }],
      ['deia task list (table)', () => ['task', 'list', ...d]],
    ];
    for (const [name, args, opts] of everyday) {
      const v = abCompare(nodeBaseline, () => deia(args(), {}, opts));
      rows.push({ name, baseline: 'node -e 0', ...v, target: 1.2 });
    }
    for (const [name, args] of everyday) rows.push(instructionRow(name, args(), 1.2));
  } finally {
    h.cleanup();
  }
  return rows;
}
