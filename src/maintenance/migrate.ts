/**
 * `deia migrate --to postgres://…`: copy a hive folder's messaging into an empty PostgreSQL
 * store, so that `status`, `inbox --all` and `export` answer the same on both. The folder is read
 * at one instant (its messaging locks held, no network call meanwhile) and left unchanged; the
 * store is written only after it was found empty. Routing, health and tasks stay in the folder
 * (they do not run on PostgreSQL yet), and so do idempotency keys of `send --key`.
 */
import { UsageError } from '../common/errors.js';
import type { HiveContext } from '../hive.js';
import type { AuditRecord } from '../messaging/types.js';
import { withMessagingSnapshot } from '../messaging/ops.js';
import { copyMessagingOn, messagingIsEmptyOn, type MessagingCopy, type MessagingCopyResult } from '../messaging/records.js';
import { isPostgresUrl, openBackend } from '../store/open.js';
import { StoreError } from '../store/types.js';
import { folderLogRecords } from './export.js';

export interface MigrateResult extends MessagingCopyResult {
  from: string;
  /** The store written (its password replaced by `***`). */
  to: string;
  schema_version: number;
}

export async function migrateMessaging(ctx: HiveContext, to: string): Promise<MigrateResult> {
  if (!to) throw new UsageError('migrate needs --to', 'e.g. deia migrate --to postgres://deia@db.internal/hive');
  if (!isPostgresUrl(to)) throw new UsageError('--to must be a postgres:// or postgresql:// URL', 'e.g. deia migrate --to postgres://deia@db.internal/hive');
  const b = await openBackend(to, { clock: ctx.clock, migrate: true });
  try {
    if (!(await messagingIsEmptyOn(b))) {
      throw new StoreError(`${b.location} already holds a hive`, 'migrate copies into an empty store only: use a new database, or the one you meant', 'ENOTEMPTY');
    }
    const copy = await withMessagingSnapshot<MessagingCopy>(ctx, async (s) => {
      const audit: AuditRecord[] = [];
      for await (const r of folderLogRecords(ctx, 'bot-messaging')) audit.push(r as AuditRecord);
      return { bots: s.bots, inboxes: s.inboxes, undelivered: s.undelivered, audit };
    });
    const res = await copyMessagingOn(b, copy).catch((e: unknown) => {
      const why = e instanceof Error ? e.message : String(e);
      throw new StoreError(`copying into ${b.location} failed part way: ${why}`, 'the store now holds part of the hive: drop its deia_ tables (or use a new database) and run migrate again');
    });
    return { from: ctx.dir, to: b.location, schema_version: b.migration?.to ?? 0, ...res };
  } finally {
    await b.close();
  }
}
