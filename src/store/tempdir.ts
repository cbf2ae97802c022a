import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh private folder under the system temp folder (for `deia demo`'s hive). */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
