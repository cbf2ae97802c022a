/**
 * Which backend a command uses: `--store`, else DEIA_STORE, else `store.url` in the folder's
 * config.json, else the folder itself. A postgres:// (or postgresql://) URL is the PostgreSQL
 * backend; any other value names a hive folder.
 */
import { isPostgresUrl } from './postgres/url.js';

export type StoreChoice = { kind: 'file'; dir?: string } | { kind: 'postgres'; url: string; from: '--store' | 'DEIA_STORE' | 'store.url' };

export function chooseStore(opts: { flag?: string; env?: NodeJS.ProcessEnv; configUrl?: () => string | null | undefined }): StoreChoice {
  const flag = opts.flag?.trim();
  if (flag) return isPostgresUrl(flag) ? { kind: 'postgres', url: flag, from: '--store' } : { kind: 'file', dir: flag };
  const env = opts.env?.DEIA_STORE?.trim();
  if (env) return isPostgresUrl(env) ? { kind: 'postgres', url: env, from: 'DEIA_STORE' } : { kind: 'file', dir: env };
  const cfg = opts.configUrl?.()?.trim();
  if (cfg && isPostgresUrl(cfg)) return { kind: 'postgres', url: cfg, from: 'store.url' };
  return { kind: 'file' };
}
