/**
 * `deia migrate`: copy a whole hive between a folder and a PostgreSQL store, either way.
 *   folder → store   `deia [--dir FOLDER] migrate --to postgres://…` into a store holding no hive
 *   store → folder   `deia migrate --from postgres://… --to FOLDER` into a folder that is missing or empty
 * Each domain is one entry of DOMAINS: how to tell a store holds some of it, how to read it
 * from either side, how to write it into either side, in that side's own format by that side's
 * own code. Messaging and routing are copied; tasks and health are not yet (they do not run on
 * PostgreSQL yet): they join DOMAINS once they do.
 *
 * The source is read whole first (a folder at one instant per domain, its locks held, no
 * network call meanwhile; a store record by record) and left unchanged. A store is written
 * only after every domain was found empty in it; a folder is written beside its place and
 * renamed into it when complete, so a failure leaves no folder behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DeiaError, UsageError } from '../common/errors.js';
import { createContext, type HiveContext } from '../hive.js';
import type { AuditRecord } from '../messaging/types.js';
import { restoreMessaging, withMessagingSnapshot } from '../messaging/ops.js';
import { copyMessagingOn, messagingFromStore, messagingIsEmptyOn, type MessagingCopy } from '../messaging/records.js';
import { restoreRouting, withRoutingSnapshot, type AuditEvent, type RoutingCopy } from '../scheduling/api.js';
import { copyRoutingOn, routingFromStore, routingIsEmptyOn } from '../scheduling/records.js';
import { isPostgresUrl, openBackend, redactUrl } from '../store/open.js';
import { StoreError, type StorageBackend } from '../store/types.js';
import { folderLogRecords } from './export.js';
import { initHive } from './init.js';

/** One area of the hive as migrate copies it; `C` is what is read from one side and written into the other. */
interface Domain<C> {
  name: string;
  /** Whether a store holds none of it (migrate writes only into an empty store). */
  isEmptyOn(b: StorageBackend): Promise<boolean>;
  fromFolder(ctx: HiveContext): Promise<C>;
  fromStore(b: StorageBackend): Promise<C>;
  toStore(b: StorageBackend, copy: C): Promise<void>;
  toFolder(ctx: HiveContext, copy: C): Promise<void>;
  /** What the copy holds, for the report. */
  counts(copy: C): Record<string, number>;
}

/** A folder's audit log whole: what retention archived, the generations cleanup rotated, the live log. */
async function folderAudit<T>(ctx: HiveContext, log: string): Promise<T[]> {
  const out: T[] = [];
  for await (const { record } of ctx.store.stream<T>(`archive/${log}.jsonl`)) out.push(record);
  for await (const r of folderLogRecords(ctx, log)) out.push(r as T);
  return out;
}

const messaging: Domain<MessagingCopy> = {
  name: 'messaging',
  isEmptyOn: messagingIsEmptyOn,
  fromFolder: (ctx) =>
    withMessagingSnapshot(ctx, async (s) => ({ bots: s.bots, inboxes: s.inboxes, undelivered: s.undelivered, keys: s.keys, audit: await folderAudit<AuditRecord>(ctx, 'bot-messaging') })),
  fromStore: messagingFromStore,
  toStore: async (b, c) => void (await copyMessagingOn(b, c)),
  toFolder: restoreMessaging,
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
  fromFolder: (ctx) => withRoutingSnapshot(ctx, () => folderAudit<AuditEvent>(ctx, 'adaptive-scheduling'), async (c) => c),
  fromStore: routingFromStore,
  toStore: async (b, c) => void (await copyRoutingOn(b, c)),
  toFolder: restoreRouting,
  counts: (c) => ({ outcomes: c.outcomes.length + c.unfolded.length, task_types: c.types ? Object.keys(c.types).length : 0, audit_lines: c.audit.length }),
};

// Tasks and health: a Domain each, here, once they run on PostgreSQL.
const DOMAINS = [messaging, routing] as const;
/** Areas of a hive migrate does not copy yet. */
export const NOT_COPIED = ['tasks', 'health'] as const;

export interface MigrateResult {
  /** Where the hive was read (a connection string's password replaced by `***`). */
  from: string;
  /** Where it was written (likewise). */
  to: string;
  direction: 'folder-to-postgres' | 'postgres-to-folder';
  /** Into a store: its schema version (created or upgraded first, as `deia init --store` does). */
  schema_version?: number;
  messaging: Record<string, number>;
  routing: Record<string, number>;
  not_copied: string[];
}

const EXAMPLE = 'e.g. deia migrate --to postgres://deia@db.internal/hive, or deia migrate --from postgres://deia@db.internal/hive --to ./restored/.deia';

/**
 * Copy the hive `ctx` names (a folder, or the PostgreSQL store chosen by --from / --store /
 * DEIA_STORE) to `to` (a postgres:// URL, or a folder).
 */
export async function migrateHive(ctx: HiveContext, to: string): Promise<MigrateResult> {
  if (!to) throw new UsageError('migrate needs --to', EXAMPLE);
  const fromStore = ctx.storeChoice.kind === 'postgres';
  const toStore = isPostgresUrl(to);
  if (fromStore && toStore) {
    const chosen = ctx.storeChoice.kind === 'postgres' ? ctx.storeChoice.from : '--store';
    throw new UsageError(
      `migrate copies between a folder and a PostgreSQL store, and both ends are stores (the source chosen by ${chosen === '--store' ? '--from / --store' : chosen})`,
      'to copy a folder, name it: --from ./path/.deia; between two stores, copy through a new folder',
    );
  }
  if (!fromStore && !toStore) throw new UsageError('--to must be a postgres:// or postgresql:// URL when copying from a folder', 'to copy a store into a folder, name the store: deia migrate --from postgres://… --to ./path/.deia');
  return ctx.storeChoice.kind === 'postgres' ? storeToFolder(ctx, ctx.storeChoice.url, to) : folderToStore(ctx, to);
}

async function folderToStore(ctx: HiveContext, url: string): Promise<MigrateResult> {
  const b = await openBackend(url, { clock: ctx.clock, migrate: true });
  try {
    for (const d of DOMAINS) {
      if (!(await d.isEmptyOn(b))) throw new StoreError(`${b.location} already holds a hive`, 'migrate copies into an empty store only: use a new database, or the one you meant', 'ENOTEMPTY');
    }
    const m = await messaging.fromFolder(ctx);
    const r = await routing.fromFolder(ctx);
    try {
      await messaging.toStore(b, m);
      await routing.toStore(b, r);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new StoreError(`copying into ${b.location} failed part way: ${why}`, 'the store now holds part of the hive: drop its deia_ tables (or use a new database) and run migrate again');
    }
    return { from: ctx.dir, to: b.location, direction: 'folder-to-postgres', schema_version: b.migration?.to ?? 0, messaging: messaging.counts(m), routing: routing.counts(r), not_copied: [...NOT_COPIED] };
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
  const hive = ['config.json', 'bots.jsonl', 'mailboxes', 'outbox.jsonl', 'performance.jsonl', 'state', '.deia'].some((f) => entries.includes(f));
  throw new DeiaError(
    hive ? `${target} already holds a hive` : `${target} is not empty`,
    'migrate writes into a folder that does not exist yet, or an empty one: choose another --to',
    1,
    'ENOTEMPTY',
  );
}

async function storeToFolder(ctx: HiveContext, url: string, to: string): Promise<MigrateResult> {
  const target = path.resolve(to);
  refuseTarget(target);
  const b = await openBackend(url, { clock: ctx.clock });
  let m: MessagingCopy;
  let r: RoutingCopy;
  try {
    m = await messaging.fromStore(b);
    r = await routing.fromStore(b);
  } finally {
    await b.close();
  }
  // Written beside its place and renamed into it once complete: a failure leaves no half hive.
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.migrating-`));
  try {
    const folder = createContext({ dir: tmp, store: tmp, env: {}, clock: ctx.clock, ids: ctx.ids, random: ctx.random, warn: (w) => ctx.store.warn(w), need: 'create' });
    await initHive(folder);
    await messaging.toFolder(folder, m);
    await routing.toFolder(folder, r);
    refuseTarget(target); // made meanwhile by someone else?
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { from: redactUrl(url), to: target, direction: 'postgres-to-folder', messaging: messaging.counts(m), routing: routing.counts(r), not_copied: [...NOT_COPIED] };
}

