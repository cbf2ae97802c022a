import { CONFIG_FILE, defaultConfig, parseConfigText } from '../config/index.js';
import type { HiveContext } from '../hive.js';
import { assertNotFolderLayout, markRecordsLayout } from '../store/file/layout.js';

/** What `deia init` writes beside config.json: runtime state stays out of git. */
export const GITIGNORE_TEXT = `# Runtime state of the deia hive. Only the configuration is meant to be committed.
*
!config.json
!.gitignore
`;

export interface InitResult {
  dir: string;
  config_written: boolean;
  gitignore_written: boolean;
  already_initialised: boolean;
}

/** Create the hive folder with every default written out. Idempotent; `force` rewrites config.json. */
export async function initHive(ctx: HiveContext, opts: { force?: boolean } = {}): Promise<InitResult> {
  const { store } = ctx;
  // A file:// hive is made in the storage interface's layout, never over a folder written the other way.
  const records = ctx.storeChoice.kind === 'interface';
  if (records) assertNotFolderLayout(ctx.dir);
  store.ensureDir();
  // The 0.1 layout's lock name where its own code may run; a new folder gets no state/ of that layout.
  return store.withLock(records ? 'init' : 'state/init', async () => {
    if (records) await markRecordsLayout(store);
    const hadConfig = store.exists(CONFIG_FILE);
    let configWritten = false;
    if (!hadConfig || opts.force) {
      await store.writeFileAtomic(CONFIG_FILE, JSON.stringify(defaultConfig(), null, 2) + '\n');
      configWritten = true;
    } else {
      // Validate what is there so that init never blesses a broken config.
      parseConfigText(store.readText(CONFIG_FILE) ?? '', store.path(CONFIG_FILE));
    }
    let gitignoreWritten = false;
    if (!store.exists('.gitignore') || opts.force) {
      await store.writeFileAtomic('.gitignore', GITIGNORE_TEXT);
      gitignoreWritten = true;
    }
    return {
      dir: ctx.dir,
      config_written: configWritten,
      gitignore_written: gitignoreWritten,
      already_initialised: hadConfig && !opts.force,
    };
  });
}

export interface StoreInitResult {
  /** Where the hive lives, password replaced by `***`. */
  store: string;
  kind: 'postgres';
  schema_version: number;
  /** Migrations applied by this run (none when the schema was already up to date). */
  applied: number[];
  already_initialised: boolean;
}

/** `deia init --store postgres://…`: create or upgrade the schema (re-runnable, safe from several machines at once). */
export async function initStore(url: string): Promise<StoreInitResult> {
  const { openBackend } = await import('../store/open.js');
  const b = await openBackend(url, { migrate: true });
  try {
    const m = b.migration ?? { from: 0, to: 0, applied: [] };
    return { store: b.location, kind: 'postgres', schema_version: m.to, applied: m.applied, already_initialised: m.applied.length === 0 };
  } finally {
    await b.close();
  }
}
