/**
 * Which backend a command uses: `--store`, else DEIA_STORE, else `store.url` in the folder's
 * config.json, else the folder itself. A postgres:// (or postgresql://) URL is the PostgreSQL
 * backend; a file:// URL is a hive folder run through the storage interface (a preview of the
 * folder engine to come: its own layout, see docs/storage.md); any other value names a hive folder.
 * A folder that holds that layout (its layout.json) is run the same way however it is named.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { folderLayoutSign, hasRecordsLayout, LAYOUT_FILE } from './file/layout.js';
import { isPostgresUrl } from './postgres/url.js';

type Source = '--store' | 'DEIA_STORE' | 'store.url' | typeof LAYOUT_FILE;

export type StoreChoice =
  | { kind: 'file'; dir?: string }
  | { kind: 'postgres'; url: string; from: Source }
  | { kind: 'interface'; url: string; dir: string; from: Source };

export function isFileUrl(s: string): boolean {
  return /^file:\/\//i.test(s);
}

function choose(value: string, from: Source): StoreChoice {
  if (isPostgresUrl(value)) return { kind: 'postgres', url: value, from };
  if (isFileUrl(value)) return { kind: 'interface', url: value, dir: fileURLToPath(value), from };
  return { kind: 'file', dir: value };
}

export function chooseStore(opts: { flag?: string; env?: NodeJS.ProcessEnv; configUrl?: () => string | null | undefined }): StoreChoice {
  const flag = opts.flag?.trim();
  if (flag) return choose(flag, '--store');
  const env = opts.env?.DEIA_STORE?.trim();
  if (env) return choose(env, 'DEIA_STORE');
  const cfg = opts.configUrl?.()?.trim();
  if (cfg && isPostgresUrl(cfg)) return { kind: 'postgres', url: cfg, from: 'store.url' };
  return { kind: 'file' };
}

/**
 * The folder's own choice, when nothing else chose. A folder holding layout.json (one stat), and a
 * new or empty one, runs on the storage interface; a folder deia 0.1 wrote (its mailboxes, outbox,
 * presence or state files, and no layout.json) keeps running on the folder's own code until
 * `deia migrate --upgrade` moves it.
 */
export function chooseByLayout(dir: string): StoreChoice {
  if (!hasRecordsLayout(dir) && folderLayoutSign(dir) !== undefined) return { kind: 'file' };
  return { kind: 'interface', url: pathToFileURL(dir).href, dir, from: LAYOUT_FILE };
}
