import { systemClock, type Clock } from './common/clock.js';
import { DeiaError, UsageError } from './common/errors.js';
import { uuidSource, validateBotId, type IdSource } from './common/ids.js';
import { CONFIG_FILE, parseConfigText, resolveConfig, type Config } from './config/index.js';
import { assertTrusted, findHive, hiveExists, type LocatedHive } from './store/locate.js';
import { refuseIfUpgraded } from './store/file/layout.js';
import { chooseByLayout, chooseStore, type StoreChoice } from './store/select.js';
import { Store, type WarnFn } from './store/store.js';

export interface HiveOptions {
  /** The hive folder; default: DEIA_DIR, else the nearest `.deia/` walking up, else `./.deia`. */
  dir?: string;
  /** Who is acting (the bot id); default DEIA_BOT, else AGENT_NAME (what agent runners set). */
  as?: string;
  /** Injected time (ms since epoch) so rules are testable without sleeping. */
  clock?: Clock;
  /** Injected id source (uuid v4 by default). */
  ids?: IdSource;
  /** Injected randomness in [0, 1) (Math.random by default). */
  random?: () => number;
  /** Where warnings about torn or corrupt lines go (stderr by default). */
  warn?: WarnFn;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Use the defaults without reading config.json (for `init --force` repairing a broken one). */
  ignoreConfig?: boolean;
  /** Where the hive lives: a postgres:// URL or a folder (default: DEIA_STORE, else store.url in config.json, else the folder). */
  store?: string;
  /**
   * 'existing': the command only makes sense on a hive that is there (reading, cleanup): a
   * missing one is an error naming the path. 'create' (default): a command that writes may
   * create it; when no folder was named and none was found walking up, it says so on stderr.
   * 'init': `deia init`, which creates on purpose.
   */
  need?: 'existing' | 'create' | 'init';
  /**
   * Open a folder deia 0.1 made (mailboxes/, outbox.jsonl… and no layout.json) as it is: only
   * `doctor`, `export` and `migrate` do, to check, read, copy or upgrade it. Everything else
   * refuses one (EOLDLAYOUT) with the one command that upgrades it.
   */
  oldLayoutOk?: boolean;
}

/**
 * Everything an operation needs: the store, the validated config, and the injected
 * clock, ids and randomness. Domain operations take this and nothing global.
 */
export interface HiveContext {
  readonly dir: string;
  readonly store: Store;
  readonly config: Config;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly random: () => number;
  /** The acting bot, if known. */
  readonly identity: string | undefined;
  /** The backend chosen (--store, DEIA_STORE, store.url, else the folder). */
  readonly storeChoice: StoreChoice;
}

/** The acting bot id, or a usage error that says how to give one. */
export function requireIdentity(ctx: HiveContext, what = 'this command'): string {
  if (!ctx.identity) {
    throw new UsageError(`${what} needs to know which bot you are`, 'pass --as BOT or set DEIA_BOT (or AGENT_NAME)');
  }
  return ctx.identity;
}

/** config.json of a hive, validated; the documented defaults when there is none. */
export function loadConfig(store: Store): Config {
  const text = store.readText(CONFIG_FILE);
  return text === undefined ? resolveConfig(undefined) : parseConfigText(text, store.path(CONFIG_FILE));
}

export function createContext(opts: HiveOptions = {}): HiveContext {
  const env = opts.env ?? process.env;
  const early = chooseStore({ flag: opts.store, env });
  const located = findHive({ dir: opts.dir ?? (early.kind !== 'postgres' ? early.dir : undefined), env, cwd: opts.cwd });
  assertTrusted(located, env);
  // A PostgreSQL hive named by --store or DEIA_STORE needs no folder; its own checks say what is missing.
  if (early.kind !== 'postgres') checkPresence(located, opts);
  const dir = located.dir;
  const store = new Store(dir, { warn: opts.warn });
  const config = opts.ignoreConfig ? resolveConfig(undefined) : loadConfig(store);
  const configured = early.kind !== 'file' ? early : chooseStore({ configUrl: () => config.store.url });
  const storeChoice = configured.kind !== 'file' ? configured : chooseByLayout(dir);
  if (storeChoice.kind === 'file' && !opts.oldLayoutOk) throw oldLayoutError(dir);
  if (storeChoice.kind === 'file') store.layoutGuard = () => refuseIfUpgraded(dir);
  store.lockOptions = lockOptionsOf(config);
  const asRaw = opts.as ?? (env.DEIA_BOT || env.AGENT_NAME || undefined);
  const identity = asRaw === undefined ? undefined : validateBotId(asRaw, 'identity (--as / DEIA_BOT / AGENT_NAME)');
  return {
    dir,
    store,
    config,
    clock: opts.clock ?? systemClock,
    ids: opts.ids ?? uuidSource,
    random: opts.random ?? Math.random,
    identity,
    storeChoice,
  };
}

/**
 * A folder deia 0.1 made runs after a one-time upgrade in place (its data copied onto the layout new
 * folders use, the old files kept beside it): one command, with the bots stopped.
 */
export function oldLayoutError(dir: string): DeiaError {
  return new DeiaError(
    `${dir} is a hive folder in deia 0.1's layout: this deia runs it after a one-time upgrade`,
    `stop the bots that use it, then run once: deia --dir ${dir} migrate --upgrade; deia doctor --repair does the same`,
    1,
    'EOLDLAYOUT',
  );
}

/** Where a context's records are: a postgres:// or file:// URL (a 0.1 folder has none: it is only read, to be copied). */
export function storeUrl(ctx: HiveContext): string {
  if (ctx.storeChoice.kind === 'file') throw oldLayoutError(ctx.dir);
  return ctx.storeChoice.url;
}

/** How the hive's store is opened for a context: its clock, and a folder's lock settings from config.json. */
export function openOptions(ctx: HiveContext): { clock: Clock; lock: { staleMs: number; maxWaitMs: number } } {
  return { clock: ctx.clock, lock: lockOptionsOf(ctx.config) };
}

function lockOptionsOf(config: Config): { staleMs: number; maxWaitMs: number } {
  return { staleMs: config.store.lock_stale_ms, maxWaitMs: config.store.lock_max_wait_ms };
}

/** A missing hive: an error for commands that need one, a notice when one is about to be made implicitly. */
function checkPresence(located: LocatedHive, opts: HiveOptions): void {
  if (hiveExists(located.dir)) return;
  const need = opts.need ?? 'create';
  const explicit = located.source === 'flag' || located.source === 'env';
  if (need === 'existing') {
    throw new DeiaError(
      `hive not found at ${located.dir}`,
      explicit
        ? 'check --dir / DEIA_DIR, or create it with `deia init`'
        : `no .deia/ here or in any folder above; cd into your project, pass --dir, or run \`deia init\``,
      1,
      'ENOHIVE',
    );
  }
  if (need === 'create' && !explicit) {
    const warn = opts.warn ?? ((m: string) => process.stderr.write(`deia: warning: ${m}\n`));
    warn(`no .deia/ found here or above; creating a new hive at ${located.dir} (run \`deia init\` to create one on purpose)`);
  }
}
