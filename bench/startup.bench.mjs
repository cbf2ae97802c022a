// Start-up of the CLI against bare `node -e 0`, alternating A/B in the same run (21 runs each).
import { abCompare, deia, nodeBaseline, tempHive } from './lib.mjs';

export const title = 'start-up';

export async function run() {
  const h = tempHive();
  const rows = [];
  const d = ['--dir', h.hive];
  try {
    deia(['init', ...d]);
    deia(['register', 'BOT-B', ...d]);
    const v = abCompare(nodeBaseline, () => deia(['--version']));
    rows.push({ name: 'deia --version', baseline: 'node -e 0', ...v, target: 1.3 });
    let n = 0;
    const reg = abCompare(nodeBaseline, () => deia(['register', `B-${n++}`, ...d]));
    rows.push({ name: 'deia register (lock + append)', baseline: 'node -e 0', ...reg, target: 1.3 });
    const send = abCompare(nodeBaseline, () => deia(['send', 'BOT-B', 'tests are green', '--as', 'BOT-A', ...d]));
    rows.push({ name: 'deia send', baseline: 'node -e 0', ...send, target: 1.3 });
    const inbox = abCompare(nodeBaseline, () => deia(['inbox', 'BOT-B', '--limit', '5', ...d]));
    rows.push({ name: 'deia inbox', baseline: 'node -e 0', ...inbox, target: 1.3 });
  } finally {
    h.cleanup();
  }
  return rows;
}
