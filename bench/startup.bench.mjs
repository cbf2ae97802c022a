// Start-up of the CLI against bare `node -e 0`, alternating A/B in the same run.
import { abCompare, deia, nodeBaseline, tempHive } from './lib.mjs';

export const title = 'start-up';

export async function run() {
  const h = tempHive();
  const rows = [];
  try {
    deia(['init', '--dir', h.hive]);
    const v = abCompare(nodeBaseline, () => deia(['--version']));
    rows.push({ name: 'deia --version', baseline: 'node -e 0', ...v, target: 1.3 });
    let n = 0;
    const reg = abCompare(nodeBaseline, () => deia(['register', `B-${n++}`, '--dir', h.hive]));
    rows.push({ name: 'deia register (lock + append)', baseline: 'node -e 0', ...reg, target: 1.3 });
  } finally {
    h.cleanup();
  }
  return rows;
}
