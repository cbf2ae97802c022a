/**
 * The schema, as numbered migrations applied in order and recorded in deia_schema_migrations.
 * `migrate` is re-runnable (applies only what is missing) and safe to run from several machines
 * at once: it holds an advisory lock, and DDL is transactional in PostgreSQL, so a migration is
 * applied whole or not at all. A migration, once released, is never edited: add the next one.
 *
 * Records are `text`, not `jsonb` (which reorders keys and drops duplicates), so an export gives
 * back each line byte for byte. Times are bigint milliseconds since the epoch: deia's clock.
 */
import type { ClientBase } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'logs, queues, documents',
    sql: `
CREATE TABLE deia_log_heads (
  log text PRIMARY KEY,
  next_seq bigint NOT NULL
);
CREATE TABLE deia_logs (
  log text NOT NULL,
  seq bigint NOT NULL,
  at bigint,
  line text NOT NULL,
  PRIMARY KEY (log, seq)
);
CREATE INDEX deia_logs_by_time ON deia_logs (log, at);
CREATE TABLE deia_log_archive (
  log text NOT NULL,
  seq bigint NOT NULL,
  at bigint,
  line text NOT NULL,
  archived_at bigint NOT NULL,
  PRIMARY KEY (log, seq)
);
CREATE TABLE deia_queue_items (
  queue text NOT NULL,
  id text NOT NULL,
  priority integer NOT NULL,
  created_at bigint NOT NULL,
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'done')),
  claim_count integer NOT NULL DEFAULT 0,
  lease_until bigint,
  claimed_by text,
  claimed_at bigint,
  PRIMARY KEY (queue, id)
);
CREATE INDEX deia_queue_claim_order ON deia_queue_items (queue, priority, created_at, id) WHERE state <> 'done';
CREATE TABLE deia_queue_events (
  seq bigserial PRIMARY KEY,
  queue text NOT NULL,
  id text NOT NULL,
  event text NOT NULL,
  at bigint NOT NULL,
  by text,
  lease_until bigint
);
CREATE INDEX deia_queue_events_item ON deia_queue_events (queue, id);
CREATE TABLE deia_docs (
  key text PRIMARY KEY,
  version bigint NOT NULL,
  value text NOT NULL
);
`,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A constant key for pg_advisory_xact_lock: "deia" in ASCII, so other applications' locks do not collide by accident. */
const MIGRATION_LOCK = 0x64656961;

export async function migrate(client: ClientBase): Promise<{ from: number; to: number; applied: number[] }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS deia_schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM deia_schema_migrations');
    const from = rows[0]?.v ?? 0;
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO deia_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, LATEST_VERSION), applied };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The schema version in the database: 0 when deia's tables are not there. */
export async function schemaVersion(client: Pick<ClientBase, 'query'>): Promise<number> {
  const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('deia_schema_migrations')::text AS t");
  if (!rows[0]?.t) return 0;
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM deia_schema_migrations');
  return r.rows[0]?.v ?? 0;
}
