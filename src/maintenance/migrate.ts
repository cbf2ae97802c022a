/**
 * `deia migrate`: copy a whole hive from a folder (either layout) or a PostgreSQL store into a
 * PostgreSQL store or a new folder, which is always written in the storage interface's layout
 * (the layout a new folder starts in); the 0.1 folder layout is only ever read.
 *   into a store     `deia [--dir FOLDER] migrate --to postgres://…` into a store holding no hive
 *   into a folder    `deia migrate --from postgres://… --to FOLDER` (or `--to file:///…/.deia`)
 *                    into a folder that is missing or empty
 *   a layout change  `deia --dir 0.1-FOLDER migrate --to NEW-FOLDER` (the folder's upgrade)
 * Each domain is one entry of DOMAINS: how to tell a store holds some of it, how to read it
 * from a 0.1 folder (by the folder's own code) or a backend, how to write it into a backend:
 * messaging, routing, tasks, health and presence. What retention archived goes into the
 * target's archive (a log's archive).
 *
 * The source is read whole first (a folder at one instant per domain, its locks held, no
 * network call meanwhile; a store record by record) and left unchanged. A store is written
 * only after every domain was found empty in it; a folder is written beside its place and
 * renamed into it when complete, so a failure leaves no folder behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONFIG_FILE } from '../config/index.js';
import { DeiaError, UsageError } from '../common/errors.js';
import { createContext, type HiveContext } from '../hive.js';
import { copyMessagingOn, messagingFromStore, messagingIsEmptyOn, type MessagingCopy } from '../messaging/records.js';
import type { RoutingCopy } from '../scheduling/api.js';
import { copyRoutingOn, routingFromStore, routingIsEmptyOn } from '../scheduling/records.js';
import { copyHealthOn, healthFromStore, healthIsEmptyOn, type HealthCopy } from '../health/records.js';
import { copyTasksOn, tasksFromStore, tasksIsEmptyOn, type TasksCopy } from '../tasks/records.js';
import { lastSeenAllOn, presenceDoc, type PresenceDoc } from '../presence/presence.js';
import { iso } from '../common/clock.js';
import { isPostgresUrl, openBackend, redactUrl } from '../store/open.js';
import { isFileUrl } from '../store/select.js';
import { LAYOUT_FILE } from '../store/file/layout.js';
import { StoreError, type StorageBackend } from '../store/types.js';
import { readFolder } from './folder-0.1/index.js';
import { initHive } from './init.js';

/** One area of the hive as migrate copies it; `C` is what is read from one side and written into the other. */
interface Domain<C> {
  name: string;
  /** Whether a store holds none of it (migrate writes only into an empty store). */
  isEmptyOn(b: StorageBackend): Promise<boolean>;
  fromStore(b: StorageBackend, ctx: HiveContext): Promise<C>;
  /** Into a backend: a PostgreSQL store, or a new folder in the storage interface's layout. */
  toStore(b: StorageBackend, copy: C): Promise<void>;
  /** What the copy holds, for the report. */
  counts(copy: C): Record<string, number>;
}

const messaging: Domain<MessagingCopy> = {
  name: 'messaging',
  isEmptyOn: messagingIsEmptyOn,
  fromStore: messagingFromStore,
  toStore: async (b, c) => void (await copyMessagingOn(b, c)),
  counts: (c) => ({
    bots: c.bots.length,
    inbox_messages: [...c.inboxes.values()].reduce((n, l) => n + l.length, 0),
    pending: c.undelivered.filter((m) => m.status === 'pending').length,
    failed_or_expired: c.undelivered.filter((m) => m.status !== 'pending').length,
    keys: c.keys.length,
    audit_lines: c.audit.length,
  }),
};

const routing: Domain<RoutingCopy> = {
  name: 'routing',
  isEmptyOn: routingIsEmptyOn,
  fromStore: routingFromStore,
  toStore: async (b, c) => void (await copyRoutingOn(b, c)),
  counts: (c) => ({ outcomes: c.outcomes.length + c.unfolded.length, task_types: c.types ? Object.keys(c.types).length : 0, audit_lines: c.audit.length }),
};

const tasks: Domain<TasksCopy> = {
  name: 'tasks',
  isEmptyOn: tasksIsEmptyOn,
  fromStore: tasksFromStore,
  toStore: copyTasksOn,
  counts: (c) => ({
    tasks: c.records.filter((r) => r?.event === 'submitted').length,
    open: c.fold.open.size,
    records: c.records.length,
    archived_records: c.archived.length,
  }),
};

const health: Domain<HealthCopy> = {
  name: 'health',
  isEmptyOn: healthIsEmptyOn,
  fromStore: healthFromStore,
  toStore: copyHealthOn,
  counts: (c) => ({
    samples: c.samples.length,
    archived_samples: c.archived.length,
    components: Object.keys(c.levels.components).length,
    alert_lines: c.alerts.length,
  }),
};

/**
 * When each bot was last seen (presence/ files' times, `presence.<bot>` documents): health counts a
 * bot's staleness and `last_seen` from it, and `deia bots` shows it. Not a record: a store where
 * bots only ran commands is still empty; a sighting there that is later than the copied one is kept.
 */
const presence: Domain<Map<string, number>> = {
  name: 'presence',
  isEmptyOn: async () => true,
  fromStore: (b) => lastSeenAllOn(b),
  toStore: async (b, seen) => {
    const there = await lastSeenAllOn(b);
    for (const [bot, ms] of [...seen].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!((there.get(bot) ?? -Infinity) >= ms)) await b.docs.put<PresenceDoc>(presenceDoc(bot), { bot_id: bot, last_seen: iso(ms) });
    }
  },
  counts: (seen) => ({ bots: seen.size }),
};

const DOMAINS = [messaging, routing, tasks, health, presence] as const;

/**
 * Where a hive lives, as migrate names the ends: a folder in the 0.1 layout (a source only), a
 * PostgreSQL store, a folder in the storage interface's layout (a file:// URL, or any folder path
 * given as --to: a new folder is written in that layout).
 */
type HiveKind = 'folder' | 'postgres' | 'interface';

export interface MigrateResult {
  /** Where the hive was read (a connection string's password replaced by `***`). */
  from: string;
  /** Where it was written (likewise). */
  to: string;
  /** `<from>-to-<to>`, each end a HiveKind (e.g. folder-to-postgres, folder-to-interface, postgres-to-interface). */
  direction: `${HiveKind}-to-${HiveKind}`;
  /** Into a store: its schema version (created or upgraded first, as `deia init --store` does). */
  schema_version?: number;
  messaging: Record<string, number>;
  routing: Record<string, number>;
  tasks: Record<string, number>;
  health: Record<string, number>;
  /** Bots with a last sighting copied (health's staleness and `deia bots` count from it). */
  presence: Record<string, number>;
  /** Areas of the hive not copied: none since tasks and health are (kept for the callers that read it). */
  not_copied: string[];
}

const EXAMPLE = 'e.g. deia migrate --to postgres://deia@db.internal/hive, or deia migrate --from postgres://deia@db.internal/hive --to ./restored/.deia';

/** Everything migrate copies, read whole from the source before anything is written. */
export interface HiveCopy {
  m: MessagingCopy;
  r: RoutingCopy;
  t: TasksCopy;
  h: HealthCopy;
  seen: Map<string, number>;
}

/**
 * Copy the hive `ctx` names (a folder in either layout, or the store chosen by --from / --store /
 * DEIA_STORE) to `to`: a postgres:// URL (a store holding no hive), or a file:// URL or a path
 * (a new folder, in the storage interface's layout either way).
 */
export async function migrateHive(ctx: HiveContext, to: string): Promise<MigrateResult> {
  if (!to) throw new UsageError('migrate needs --to', EXAMPLE);
  const source = ctx.storeChoice;
  const target: HiveKind = isPostgresUrl(to) ? 'postgres' : 'interface';
  const from: HiveKind = source.kind === 'file' ? 'folder' : source.kind;
  const copy = source.kind === 'file' ? await readFolder(ctx) : await readStore(ctx, source.url);
  const written = target === 'postgres' ? await writeStore(copy, to, ctx) : await writeFolder(copy, to, ctx);
  return {
    from: source.kind === 'file' ? ctx.dir : redactUrl(source.url),
    to: written.location,
    direction: `${from}-to-${target}`,
    ...(written.schema_version === undefined ? {} : { schema_version: written.schema_version }),
    ...countsOf(copy),
    not_copied: [],
  };
}

/** What a copy holds, area by area (the same keys whichever way it went). */
export function countsOf(c: HiveCopy): Pick<MigrateResult, 'messaging' | 'routing' | 'tasks' | 'health' | 'presence'> {
  return { messaging: messaging.counts(c.m), routing: routing.counts(c.r), tasks: tasks.counts(c.t), health: health.counts(c.h), presence: presence.counts(c.seen) };
}

async function readStore(ctx: HiveContext, url: string): Promise<HiveCopy> {
  const b = await openBackend(url, { clock: ctx.clock });
  try {
    const m = await messaging.fromStore(b, ctx);
    const r = await routing.fromStore(b, ctx);
    const t = await tasks.fromStore(b, ctx);
    const h = await health.fromStore(b, ctx);
    return { m, r, t, h, seen: await presence.fromStore(b, ctx) };
  } finally {
    await b.close();
  }
}

/** Every area into a backend, in the order the aggregates need (health after routing: they name the end of the outcomes). */
async function copyInto(b: StorageBackend, c: HiveCopy): Promise<void> {
  await messaging.toStore(b, c.m);
  await routing.toStore(b, c.r);
  await tasks.toStore(b, c.t);
  await health.toStore(b, c.h);
  await presence.toStore(b, c.seen);
}

/** Into a PostgreSQL store: its schema created or upgraded first; only when it holds no hive. */
async function writeStore(c: HiveCopy, url: string, ctx: HiveContext): Promise<{ location: string; schema_version?: number }> {
  const b = await openBackend(url, { clock: ctx.clock, migrate: true });
  try {
    for (const d of DOMAINS) {
      if (!(await d.isEmptyOn(b))) throw new StoreError(`${b.location} already holds a hive`, 'migrate copies into an empty store only: use a new database, or the one you meant', 'ENOTEMPTY');
    }
    try {
      await copyInto(b, c);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StoreError(`copying into ${b.location} failed part way: ${why}`, 'the store now holds part of the hive: drop its deia_ tables (or use a new database) and run migrate again');
    }
    return { location: b.location, schema_version: b.migration?.to ?? 0 };
  } finally {
    await b.close();
  }
}

/** What a folder about to receive a hive holds: nothing (missing, or an empty folder), else why not. */
function refuseTarget(target: string): void {
  let entries: string[];
  try {
    const st = fs.lstatSync(target);
    if (!st.isDirectory()) throw new DeiaError(`${target} is not a folder`, 'name a folder that does not exist yet, or an empty one', 1, 'ENOTDIR');
    entries = fs.readdirSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (entries.length === 0) return;
  const hive = ['config.json', 'bots.jsonl', 'mailboxes', 'outbox.jsonl', 'performance.jsonl', 'tasks.jsonl', 'metrics.jsonl', 'state', 'queues', 'docs', LAYOUT_FILE, '.deia'].some((f) => entries.includes(f));
  throw new DeiaError(
    hive ? `${target} already holds a hive` : `${target} is not empty`,
    'migrate writes into a folder that does not exist yet, or an empty one: choose another --to',
    1,
    'ENOTEMPTY',
  );
}

/**
 * Into a new folder in the storage interface's layout (named by a file:// URL or a path): written
 * beside its place and renamed into it once complete, so a failure leaves no half hive. Its
 * location is reported as it was named (a URL, or the path resolved).
 */
async function writeFolder(c: HiveCopy, to: string, ctx: HiveContext): Promise<{ location: string; schema_version?: number }> {
  const url = isFileUrl(to);
  const target = path.resolve(url ? fileURLToPath(to) : to);
  refuseTarget(target);
  const tmp = await buildFolder(c, target, ctx);
  try {
    refuseTarget(target); // made meanwhile by someone else?
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { location: url ? pathToFileURL(target).href : target };
}

/**
 * The copy as a complete folder in the storage interface's layout beside `target` (a temporary
 * name in the same parent, so a rename puts it in place), with the settings this command read
 * (config.json less store.url, which would point it elsewhere). Removed again if anything fails.
 */
export async function buildFolder(c: HiveCopy, target: string, ctx: HiveContext): Promise<string> {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.migrating-`));
  try {
    const url = pathToFileURL(tmp).href;
    const folder = createContext({ dir: tmp, store: url, env: {}, clock: ctx.clock, ids: ctx.ids, random: ctx.random, warn: (w) => ctx.store.warn(w), need: 'create' });
    await initHive(folder);
    await carryConfig(ctx, folder);
    const b = await openBackend(url, { clock: ctx.clock, warn: (w) => ctx.store.warn(w) });
    await copyInto(b, c);
    await b.close();
    return tmp;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The source's settings into the new folder (its config.json as read, less store.url); the defaults when it has none. */
async function carryConfig(ctx: HiveContext, folder: HiveContext): Promise<void> {
  const text = ctx.store.exists(CONFIG_FILE) ? ctx.store.readText(CONFIG_FILE) : undefined;
  if (text === undefined) return;
  const cfg = JSON.parse(text) as { store?: { url?: unknown } };
  if (cfg.store) delete cfg.store.url;
  await folder.store.writeFileAtomic(CONFIG_FILE, JSON.stringify(cfg, null, 2) + '\n');
}
