import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { deia, tempHive } from './cli.js';

/**
 * A hive folder run through the storage interface (`--store file://…`, the preview of the folder
 * engine to come): the third fixture of the behaviour suites, beside a folder and PostgreSQL.
 */
export function freshInterfaceFolder(): { url: string; dir: string; root: string; drop: () => Promise<void> } {
  const h = tempHive();
  const url = pathToFileURL(h.dir).href;
  const r = deia(['init', '--store', url]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { url, dir: h.dir, root: h.root, drop: async () => fs.rmSync(h.root, { recursive: true, force: true }) };
}
