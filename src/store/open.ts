/**
 * Opening a backend by where the hive lives: a postgres:// URL is the PostgreSQL backend (its
 * driver loaded only then, by a dynamic import), anything else a hive folder (a path, or a
 * file:// URL).
 */
import { fileURLToPath } from 'node:url';
import { openFileBackend } from './file/backend.js';
import { assertNotFolderLayout } from './file/layout.js';
import { isFileUrl } from './select.js';
import { isPostgresUrl, redactUrl } from './postgres/url.js';
import type { OpenOptions, StorageBackend } from './types.js';

export { isPostgresUrl, redactUrl };

export interface OpenBackendOptions extends OpenOptions {
  /** PostgreSQL: create or upgrade the schema first (what `deia init --store` does). */
  migrate?: boolean;
  /** PostgreSQL: how long to keep trying while the server is unreachable (ms). */
  reconnectMs?: number;
  /** PostgreSQL: a watcher's fallback poll (ms). */
  pollMs?: number;
}

export async function openBackend(where: string, opts: OpenBackendOptions = {}): Promise<StorageBackend> {
  if (isPostgresUrl(where)) {
    const { openPostgresBackend } = await import('./postgres/backend.js');
    return openPostgresBackend(where, opts);
  }
  if (!isFileUrl(where)) return openFileBackend(where, opts);
  // A file:// store is the hive's engine: never over a folder the folder's own code wrote.
  const dir = fileURLToPath(where);
  assertNotFolderLayout(dir);
  return openFileBackend(dir, { ...opts, markLayout: true });
}
