/**
 * What `deia doctor` reads of a PostgreSQL store below the storage interface: the schema version
 * without refusing an old one, and the raw rows (a payload or a document that does not parse would
 * make the interface throw, and doctor has to see those). Reads only; nothing here writes.
 */
import { systemClock, type Clock } from '../../common/clock.js';
import { PostgresBackend, type PostgresOpenOptions } from './backend.js';
import { LATEST_VERSION, schemaVersion } from './migrations.js';
import type { RawDocument, RawItem, RawLogLine } from '../raw.js';

export { LATEST_VERSION };

/** Rows are read in pages of this many (bounded memory however large the store). */
const PAGE = 5000;

export interface Inspection {
  /** Open for the domain operations too (a repair runs cleanup's step through it). */
  backend: PostgresBackend;
  /** 0 when deia's schema is not there (or its migrations table is empty). */
  version: number;
  /** Whether deia's migrations table exists at all. */
  hasSchema: boolean;
}

/** Connect (one line naming the server, never its password, when that fails) and read the schema version; never migrates. */
export async function inspectPostgres(url: string, opts: PostgresOpenOptions & { clock?: Clock } = {}): Promise<Inspection> {
  const backend = new PostgresBackend(url, opts.clock ?? systemClock, { ...opts, migrate: false });
  try {
    const { hasSchema, version } = await backend.withClient(async (c) => {
      const { rows } = await c.query<{ t: string | null }>("SELECT to_regclass('deia_schema_migrations')::text AS t");
      return { hasSchema: Boolean(rows[0]?.t), version: await schemaVersion(c) };
    });
    return { backend, version, hasSchema };
  } catch (e) {
    await backend.close();
    throw e;
  }
}


/** Every queue item as stored (payload as text), by queue then id. */
export async function* rawQueueItems(b: PostgresBackend): AsyncIterable<RawItem> {
  let after: [string, string] = ['', ''];
  for (;;) {
    const { rows } = await b.query<{ queue: string; id: string; state: RawItem['state']; payload: string; lease_until: string | null; claimed_by: string | null }>(
      'SELECT queue, id, state, payload, lease_until, claimed_by FROM deia_queue_items WHERE (queue, id) > ($1, $2) ORDER BY queue, id LIMIT $3',
      [after[0], after[1], PAGE],
    );
    for (const r of rows) yield { ...r, lease_until: r.lease_until === null ? null : Number(r.lease_until) };
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    after = [last.queue, last.id];
  }
}

/** Every document as stored (value as text), by key. */
export async function* rawDocuments(b: PostgresBackend): AsyncIterable<RawDocument> {
  let after = '';
  for (;;) {
    const { rows } = await b.query<{ key: string; value: string }>('SELECT key, value FROM deia_docs WHERE key > $1 ORDER BY key LIMIT $2', [after, PAGE]);
    yield* rows;
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.key;
  }
}

/** Every line of every log (not the archive), by log then sequence number. */
export async function* rawLogLines(b: PostgresBackend): AsyncIterable<RawLogLine> {
  let after: [string, number] = ['', 0];
  for (;;) {
    const { rows } = await b.query<{ log: string; seq: string; line: string }>(
      'SELECT log, seq, line FROM deia_logs WHERE (log, seq) > ($1, $2) ORDER BY log, seq LIMIT $3',
      [after[0], after[1], PAGE],
    );
    for (const r of rows) yield { log: r.log, seq: Number(r.seq), line: r.line };
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    after = [last.log, Number(last.seq)];
  }
}
