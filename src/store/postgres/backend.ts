/**
 * The PostgreSQL backend of the storage interface, for hives spread over several machines.
 * Loaded only when a postgres:// store is chosen (a dynamic import), so file-backend commands
 * never load the driver.
 *
 * The client is `pg` 8 (node-postgres). Measured here against `postgres` 3 (docs/storage.md):
 * the same claim throughput and the same connect time, and once its Cloudflare probe is cut
 * from the bundle (scripts/build.mjs) the same load time; it reads PGPASSWORD, PGHOST & co.,
 * ~/.pgpass (through the pgpass module) and sslmode/sslrootcert/sslcert/sslkey as libpq does.
 *
 * Every multi-row change is one statement (data-modifying CTEs) or one transaction; claims lock
 * a row with FOR UPDATE SKIP LOCKED and record the claim in deia_queue_events in the same
 * statement. Writers NOTIFY deia_change (delivered at commit) and watchers LISTEN.
 */
import pg from 'pg';
import { systemClock, type Clock } from '../../common/clock.js';
import {
  checkName,
  StoreConflict,
  StoreError,
  type ClaimOptions,
  type Cursor,
  type Documents,
  type EnqueueInput,
  type Log,
  type LogOptions,
  type LogReadResult,
  type OpenOptions,
  type QueueItem,
  type Queues,
  type SettleOptions,
  type StorageBackend,
  type Transaction,
  type TransactionScope,
  type Versioned,
  type Watcher,
  type WatchTarget,
} from '../types.js';
import { LATEST_VERSION, migrate, schemaVersion } from './migrations.js';
import { libpqConnectionString, passwordOf, redactUrl, scrub } from './url.js';

const CHANNEL = 'deia_change';
const BATCH = 5000;

export interface PostgresOpenOptions extends OpenOptions {
  /** Apply missing migrations first (what `deia init --store` does); otherwise a missing or old schema is an error. */
  migrate?: boolean;
  /** How long to keep trying to (re)connect while the server is unreachable (default 10 s). */
  reconnectMs?: number;
  /** A watcher's fallback poll: it wakes this often even without a notification (default 5 s). */
  pollMs?: number;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * pg leaves the socket open when a login fails half-way (no password for SCRAM, say), so the
 * process would wait for the server's authentication timeout before exiting: close it.
 */
class Client extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads of pg's types, forwarded as they are
  override connect(callback?: any): any {
    const drop = () => (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    if (callback) {
      return super.connect((err: Error | null) => {
        if (err) drop();
        callback(err, this);
      });
    }
    return super.connect().catch((e: unknown) => {
      drop();
      throw e;
    });
  }
}

/** Errors of the driver, told as one line that names the server (never its password) and what to do. */
export class PgErrors {
  readonly location: string;
  private readonly secret: string | undefined;

  constructor(url: string) {
    this.location = redactUrl(url);
    this.secret = passwordOf(url) ?? process.env.PGPASSWORD;
  }

  wrap(e: unknown): Error {
    if (e instanceof StoreError) return e;
    const err = e as { code?: string; message?: string };
    const msg = scrub(String(err.message ?? e), this.secret).replace(/\s+/g, ' ');
    const code = err.code ?? '';
    if (/client password must be a string/.test(msg)) {
      return new StoreError(`PostgreSQL at ${this.location} asks for a password and none was given`, 'put it in PGPASSWORD, ~/.pgpass or the URL', 'ESTOREAUTH');
    }
    if (code === '28P01' || code === '28000') {
      return new StoreError(`PostgreSQL at ${this.location} refused the login: ${msg}`, 'check the user and password (URL, PGPASSWORD or ~/.pgpass)', 'ESTOREAUTH');
    }
    if (code === '3D000') return new StoreError(`PostgreSQL at ${this.location}: ${msg}`, 'create the database, or fix its name in the URL', 'ESTOREUNREACHABLE');
    if (code === '42P01') {
      return new StoreError(`no deia schema in the database at ${this.location}`, `run \`deia init --store ${this.location}\``, 'ESTORESCHEMA');
    }
    if (isConnectionError(e)) {
      return new StoreError(`cannot reach PostgreSQL at ${this.location}: ${msg}`, 'is the server running and the URL right? the last operation may not have been stored', 'ESTOREUNREACHABLE');
    }
    return new StoreError(`PostgreSQL at ${this.location}: ${msg}`, code ? `SQLSTATE ${code}` : undefined);
  }
}

/** Errors that mean the connection, not the statement, failed. */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return true;
  // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up or shutting down), 08xxx connection exceptions.
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err?.message ?? '');
}

/** Errors for which nothing reached the server, so trying again cannot apply anything twice. */
function isConnectRefused(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code === 'ECONNREFUSED' || code === '57P03' || /timeout exceeded when trying to connect/i.test((e as Error)?.message ?? '');
}

/** How long to keep trying while the server is unreachable: the option, else DEIA_PG_RECONNECT_MS, else 10 s. */
function reconnectWindow(opts: PostgresOpenOptions): number {
  const env = Number(process.env.DEIA_PG_RECONNECT_MS);
  return opts.reconnectMs ?? (Number.isFinite(env) && env >= 0 && process.env.DEIA_PG_RECONNECT_MS ? env : 10_000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cursorOf(seq: number): Cursor {
  return `p1:${seq}` as Cursor;
}

function seqOf(c: Cursor | undefined): number | undefined {
  if (c === undefined) return undefined;
  const m = /^p1:(\d+)$/.exec(c);
  return m ? Number(m[1]) : -1; // -1: a cursor from another backend
}

interface ItemRow {
  id: string;
  priority: number;
  created_at: string;
  payload: string;
  state: QueueItem['state'];
  claim_count: number;
  lease_until: string | null;
  claimed_by: string | null;
  claimed_at: string | null;
}

function toItem<T>(r: ItemRow): QueueItem<T> {
  const it: QueueItem<T> = {
    id: r.id,
    priority: r.priority,
    createdAt: Number(r.created_at),
    payload: JSON.parse(r.payload) as T,
    state: r.state,
    claimCount: r.claim_count,
  };
  if (r.lease_until !== null) it.leaseUntil = Number(r.lease_until);
  if (r.claimed_by !== null) it.claimedBy = r.claimed_by;
  if (r.claimed_at !== null) it.claimedAt = Number(r.claimed_at);
  return it;
}

export class PostgresBackend implements StorageBackend {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly errors: PgErrors;
  readonly queues: Queues;
  readonly docs: Documents;
  private readonly pool: pg.Pool;
  private readonly watchers = new Set<PgWatcher>();
  migration?: { from: number; to: number; applied: number[] };

  private readonly url: string;

  constructor(
    url: string,
    readonly clock: Clock,
    readonly opts: PostgresOpenOptions,
  ) {
    this.errors = new PgErrors(url);
    this.location = this.errors.location;
    this.url = libpqConnectionString(url);
    this.pool = new pg.Pool({
      connectionString: this.url,
      max: 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      Client,
      application_name: 'deia',
      keepAlive: true,
    });
    // An idle connection that the server closed (a restart) is dropped by the pool; the next
    // query opens a new one. Without a listener the error would crash the process.
    this.pool.on('error', () => undefined);
    this.queues = new PgQueues(this);
    this.docs = new PgDocuments(this);
  }

  /** Run with a pooled connection; connecting is retried while the server refuses (restarting), up to reconnectMs. */
  async withClient<R>(fn: (c: pg.PoolClient) => Promise<R>): Promise<R> {
    const deadline = Date.now() + reconnectWindow(this.opts);
    let client: pg.PoolClient;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      try {
        client = await this.pool.connect();
        break;
      } catch (e) {
        if (!isConnectRefused(e) || Date.now() + wait > deadline) throw this.errors.wrap(e);
        await sleep(wait);
      }
    }
    let broken: unknown;
    // A checked-out client whose connection dies (a server restart) emits 'error'; unheard, that
    // would crash the process. The query in flight fails too, and that is what the caller sees.
    const onError = (e: unknown) => (broken = e);
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (e) {
      if (isConnectionError(e)) broken = e;
      throw this.errors.wrap(e);
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.withClient((c) => c.query<R>(sql, params));
  }

  /** BEGIN … COMMIT around `fn`; ROLLBACK on any error. */
  inTransaction<R>(fn: (c: pg.PoolClient) => Promise<R>): Promise<R> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        const r = await fn(c);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /** Check (or, with `migrate`, bring up to date) the schema. */
  async start(): Promise<void> {
    if (this.opts.migrate) {
      this.migration = await this.withClient((c) => migrate(c));
      return;
    }
    const v = await this.withClient((c) => schemaVersion(c));
    if (v === 0) throw new StoreError(`no deia schema in the database at ${this.location}`, `run \`deia init --store ${this.location}\``, 'ESTORESCHEMA');
    if (v < LATEST_VERSION) {
      throw new StoreError(`the deia schema at ${this.location} is at version ${v}, this deia needs ${LATEST_VERSION}`, `run \`deia init --store ${this.location}\` to migrate`, 'ESTORESCHEMA');
    }
    if (v > LATEST_VERSION) {
      throw new StoreError(`the deia schema at ${this.location} is at version ${v}, newer than this deia knows (${LATEST_VERSION})`, 'upgrade deia', 'ESTORESCHEMA');
    }
  }

  log<T extends object = Record<string, unknown>>(name: string, opts: LogOptions<T> = {}): Log<T> {
    return new PgLog<T>(this, name, opts);
  }

  async transaction<R>(scope: TransactionScope, fn: (tx: Transaction) => Promise<R> | R): Promise<R> {
    const docs = new Set(scope.docs ?? []);
    const logs = new Set(scope.logs ?? []);
    const queues = new Set(scope.queues ?? []);
    for (const k of docs) checkName('document key', k);
    for (const l of logs) checkName('log', l);
    for (const q of queues) checkName('queue', q);
    const lockKeys = [...[...docs].map((k) => `d:${k}`), ...[...logs].map((l) => `l:${l}`), ...[...queues].map((q) => `q:${q}`)].sort();
    return this.inTransaction(async (c) => {
      // One global order (sorted names) for the locks, so two transactions never wait on each other in a circle.
      for (const k of lockKeys) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`deia:${k}`]);
      const docWrites = new Map<string, { value: unknown } | null>();
      const appends = new Map<string, object[]>();
      const enqueues: Array<[string, readonly EnqueueInput<unknown>[]]> = [];
      const need = (set: Set<string>, kind: string, name: string) => {
        if (!set.has(name)) throw new Error(`transaction touches ${kind} ${name} outside its scope`);
      };
      const tx: Transaction = {
        get: async <T>(key: string) => {
          need(docs, 'document', key);
          const w = docWrites.get(key);
          if (w === null) return undefined;
          const cur = await getDoc<T>(c, key);
          return w ? { value: w.value as T, version: (cur?.version ?? 0) + 1 } : cur;
        },
        put: (key, value) => (need(docs, 'document', key), void docWrites.set(key, { value })),
        delete: (key) => (need(docs, 'document', key), void docWrites.set(key, null)),
        append: (log, records) => {
          need(logs, 'log', log);
          appends.set(log, [...(appends.get(log) ?? []), ...records]);
        },
        enqueue: (queue, items) => (need(queues, 'queue', queue), void enqueues.push([queue, items])),
      };
      const result = await fn(tx);
      for (const [key, w] of docWrites) {
        if (w === null) await deleteDoc(c, key);
        else await putDoc(c, key, w.value);
      }
      for (const log of [...appends.keys()].sort()) {
        const opts = { timeOf: undefined };
        await appendRows(c, log, appends.get(log)!, opts);
      }
      for (const [queue, items] of enqueues) await enqueueRows(c, queue, items, this.clock());
      return result;
    });
  }

  async watch(targets: readonly WatchTarget[]): Promise<Watcher> {
    const topics = new Set(targets.map((t) => ('queue' in t ? `q:${t.queue}` : 'log' in t ? `l:${t.log}` : `d:${t.doc}`)));
    const w = new PgWatcher(this, topics);
    await w.start();
    this.watchers.add(w);
    w.onClose = () => this.watchers.delete(w);
    return w;
  }

  /** A connection of its own for LISTEN (a pooled one would be handed to others). */
  newClient(): pg.Client {
    const c = new Client({ connectionString: this.url, connectionTimeoutMillis: 10_000, application_name: 'deia', keepAlive: true });
    return c;
  }

  async close(): Promise<void> {
    for (const w of [...this.watchers]) await w.close();
    await this.pool.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- logs

async function appendRows<T extends object>(c: Queryable, log: string, records: readonly T[], opts: LogOptions<T>): Promise<void> {
  if (records.length === 0) return;
  const lines = records.map((r) => JSON.stringify(r));
  const ats = records.map((r) => {
    const t = opts.timeOf?.(r);
    return t === undefined || !Number.isFinite(t) ? null : Math.trunc(t);
  });
  // The head row is locked until commit, so sequence numbers are handed out in commit order: a
  // reader that saw seq n can never later find a record below n (no gaps behind a cursor).
  await c.query(
    `WITH h AS (
       INSERT INTO deia_log_heads AS h (log, next_seq) VALUES ($1, 1 + $2::bigint)
       ON CONFLICT (log) DO UPDATE SET next_seq = h.next_seq + $2::bigint
       RETURNING next_seq - $2::bigint AS first
     ), ins AS (
       INSERT INTO deia_logs (log, seq, at, line)
       SELECT $1, h.first + t.ord - 1, t.at, t.line FROM h, unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS t(at, line, ord)
       RETURNING 1
     )
     SELECT pg_notify($5, 'l:' || $1), (SELECT count(*) FROM ins) AS n`,
    [log, records.length, ats, lines, CHANNEL],
  );
}

class PgLog<T extends object> implements Log<T> {
  constructor(
    private readonly db: PostgresBackend,
    readonly name: string,
    private readonly opts: LogOptions<T>,
  ) {
    checkName('log', name);
  }

  append(records: readonly T[]): Promise<void> {
    return this.db.withClient((c) => appendRows(c, this.name, records, this.opts));
  }

  async readSince(cursor?: Cursor): Promise<LogReadResult<T>> {
    let from = seqOf(cursor) ?? 0;
    let reset = false;
    const head = await this.endSeq();
    if (from < 0 || from > head) {
      // Not a position in this log (another backend's cursor, or a database restored from an older backup).
      from = 0;
      reset = true;
    }
    const records: T[] = [];
    let last = from;
    for (;;) {
      const { rows } = await this.db.query<{ seq: string; line: string }>(
        'SELECT seq, line FROM deia_logs WHERE log = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [this.name, last, BATCH],
      );
      for (const r of rows) records.push(JSON.parse(r.line) as T);
      if (rows.length) last = Number(rows[rows.length - 1]!.seq);
      if (rows.length < BATCH) break;
    }
    return { records, cursor: cursorOf(Math.max(last, reset ? 0 : from)), reset };
  }

  private async endSeq(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>('SELECT next_seq - 1 AS n FROM deia_log_heads WHERE log = $1', [this.name]);
    return rows[0] ? Number(rows[0].n) : 0;
  }

  async end(): Promise<Cursor> {
    return cursorOf(await this.endSeq());
  }

  private async *lines(table: 'deia_logs' | 'deia_log_archive'): AsyncIterable<string> {
    let last = 0;
    for (;;) {
      const { rows } = await this.db.query<{ seq: string; line: string }>(
        `SELECT seq, line FROM ${table} WHERE log = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [this.name, last, BATCH],
      );
      for (const r of rows) yield r.line;
      if (rows.length < BATCH) return;
      last = Number(rows[rows.length - 1]!.seq);
    }
  }

  async *stream(): AsyncIterable<T> {
    for await (const l of this.lines('deia_logs')) yield JSON.parse(l) as T;
  }

  async *streamArchive(): AsyncIterable<T> {
    for await (const l of this.lines('deia_log_archive')) yield JSON.parse(l) as T;
  }

  async *exportLines(): AsyncIterable<string> {
    for await (const l of this.lines('deia_logs')) yield l + '\n';
  }

  async archiveOlderThan(before: number): Promise<{ archived: number }> {
    const timeOf = this.opts.timeOf;
    if (!timeOf) return { archived: 0 };
    const dated = await this.move('at < $2::bigint', Math.trunc(before));
    // Records appended in a transaction carry no time (the transaction does not know the log's
    // timeOf): judged here, from their text.
    const undated = await this.pickSeqs((r) => {
      const t = timeOf(r);
      return t !== undefined && t < before;
    }, 'AND at IS NULL');
    return { archived: dated + (undated.length ? await this.move('seq = ANY($2::bigint[])', undated) : 0) };
  }

  async archiveWhere(pick: (record: T) => boolean): Promise<{ archived: number }> {
    const seqs = await this.pickSeqs(pick);
    return { archived: seqs.length ? await this.move('seq = ANY($2::bigint[])', seqs) : 0 };
  }

  /** The seqs of the records `pick` chooses, read in batches, oldest first (`where`: a further condition). */
  private async pickSeqs(pick: (record: T) => boolean, where = ''): Promise<string[]> {
    const out: string[] = [];
    let last = '0';
    for (;;) {
      const { rows } = await this.db.query<{ seq: string; line: string }>(
        `SELECT seq, line FROM deia_logs WHERE log = $1 AND seq > $2 ${where} ORDER BY seq LIMIT $3`,
        [this.name, last, BATCH],
      );
      for (const r of rows) if (pick(JSON.parse(r.line) as T)) out.push(r.seq);
      if (rows.length < BATCH) return out;
      last = rows[rows.length - 1]!.seq;
    }
  }

  /**
   * Move the records matching `where` (over $2 = `arg`) to the archive in one statement: a record
   * leaves the log exactly when it enters the archive. Returns how many moved (those already gone are skipped).
   */
  private async move(where: string, arg: unknown): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `WITH moved AS (
         DELETE FROM deia_logs WHERE log = $1 AND ${where} RETURNING seq, at, line
       ), ins AS (
         INSERT INTO deia_log_archive (log, seq, at, line, archived_at)
         SELECT $1, seq, at, line, $3 FROM moved ON CONFLICT (log, seq) DO NOTHING
       )
       SELECT count(*)::int AS n FROM moved`,
      [this.name, arg, this.db.clock()],
    );
    return rows[0]?.n ?? 0;
  }
}

// ---------------------------------------------------------------- queues

async function enqueueRows<T>(c: Queryable, queue: string, items: readonly EnqueueInput<T>[], now: number): Promise<string[]> {
  if (items.length === 0) return [];
  for (const it of items) checkName('item id', it.id);
  const { rows } = await c.query<{ id: string }>(
    `WITH ins AS (
       INSERT INTO deia_queue_items (queue, id, priority, created_at, payload)
       SELECT $1, t.id, t.priority, t.created_at, t.payload
       FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[]) WITH ORDINALITY AS t(id, priority, created_at, payload, ord)
       ORDER BY t.ord
       ON CONFLICT (queue, id) DO NOTHING
       RETURNING id
     )
     SELECT id, pg_notify($6, 'q:' || $1) FROM ins`,
    [
      queue,
      items.map((i) => i.id),
      items.map((i) => i.priority),
      items.map((i) => Math.trunc(i.createdAt ?? now)),
      items.map((i) => JSON.stringify(i.payload ?? null)),
      CHANNEL,
    ],
  );
  return rows.map((r) => r.id);
}

async function restoreRows<T>(c: Queryable, queue: string, items: readonly QueueItem<T>[]): Promise<string[]> {
  if (items.length === 0) return [];
  for (const it of items) checkName('item id', it.id);
  const { rows } = await c.query<{ id: string }>(
    `WITH ins AS (
       INSERT INTO deia_queue_items (queue, id, priority, created_at, payload, state, claim_count, lease_until, claimed_by, claimed_at)
       SELECT $1, t.id, t.priority, t.created_at, t.payload, t.state, t.claim_count, t.lease_until, t.claimed_by, t.claimed_at
       FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::bigint[])
         WITH ORDINALITY AS t(id, priority, created_at, payload, state, claim_count, lease_until, claimed_by, claimed_at, ord)
       ORDER BY t.ord
       ON CONFLICT (queue, id) DO NOTHING
       RETURNING id
     )
     SELECT id, pg_notify($11, 'q:' || $1) FROM ins`,
    [
      queue,
      items.map((i) => i.id),
      items.map((i) => i.priority),
      items.map((i) => Math.trunc(i.createdAt)),
      items.map((i) => JSON.stringify(i.payload ?? null)),
      items.map((i) => i.state),
      items.map((i) => i.claimCount),
      items.map((i) => (i.state === 'leased' && i.leaseUntil !== undefined ? Math.trunc(i.leaseUntil) : null)),
      items.map((i) => i.claimedBy ?? null),
      items.map((i) => (i.claimedAt === undefined ? null : Math.trunc(i.claimedAt))),
      CHANNEL,
    ],
  );
  return rows.map((r) => r.id);
}

const CLAIMABLE = `(state = 'ready' OR (state = 'leased' AND lease_until <= $2))`;

class PgQueues implements Queues {
  constructor(private readonly db: PostgresBackend) {}

  async enqueue<T>(queue: string, items: readonly EnqueueInput<T>[]): Promise<{ added: string[] }> {
    checkName('queue', queue);
    return { added: await this.db.withClient((c) => enqueueRows(c, queue, items, this.db.clock())) };
  }

  async restore<T>(queue: string, items: readonly QueueItem<T>[]): Promise<{ added: string[] }> {
    checkName('queue', queue);
    return { added: await this.db.withClient((c) => restoreRows(c, queue, items)) };
  }

  claimNext<T>(queue: string, opts: ClaimOptions = {}): Promise<QueueItem<T> | null> {
    return this.claim<T>(queue, null, opts);
  }

  take<T>(queue: string, id: string, opts: ClaimOptions = {}): Promise<QueueItem<T> | null> {
    return this.claim<T>(queue, id, opts);
  }

  /** The next claimable item (or the one with `id`), claimed and audited in one statement. */
  private async claim<T>(queue: string, id: string | null, opts: ClaimOptions): Promise<QueueItem<T> | null> {
    checkName('queue', queue);
    const now = this.db.clock();
    const leaseUntil = opts.leaseMs === undefined ? null : now + Math.trunc(opts.leaseMs);
    // SKIP LOCKED: concurrent claimers each lock a different row instead of queueing behind one;
    // the claimable test is repeated on the UPDATE so a row changed since the sub-select is left.
    const { rows } = await this.db.query<ItemRow>(
      `WITH c AS (
         UPDATE deia_queue_items
         SET state = CASE WHEN $3::bigint IS NULL THEN 'done' ELSE 'leased' END,
             lease_until = $3::bigint, claim_count = claim_count + 1, claimed_by = $4, claimed_at = $2
         WHERE queue = $1 AND ${CLAIMABLE} AND id = (
           SELECT id FROM deia_queue_items
           WHERE queue = $1 AND state <> 'done' AND ${CLAIMABLE}
             AND ($5::int IS NULL OR priority = $5::int) AND ($6::text IS NULL OR id = $6::text)
           ORDER BY priority, created_at, id
           FOR UPDATE SKIP LOCKED LIMIT 1
         )
         RETURNING *
       ), audit AS (
         INSERT INTO deia_queue_events (queue, id, event, at, by, lease_until)
         SELECT queue, id, 'claim', $2, $4, $3::bigint FROM c
       )
       SELECT * FROM c`,
      [queue, now, leaseUntil, opts.by ?? null, opts.priority ?? null, id],
    );
    return rows[0] ? toItem<T>(rows[0]) : null;
  }

  private async settle(queue: string, id: string, event: 'ack' | 'nack', only?: SettleOptions): Promise<boolean> {
    checkName('queue', queue);
    const now = this.db.clock();
    const next = event === 'ack' ? 'done' : 'ready';
    // Without `only`: any live lease. With it: that claim by that claimer, lapsed or not (a claim
    // since then moved claim_count on); the row lock makes this race-free against a claimer.
    const { rows } = await this.db.query<{ n: number }>(
      `WITH c AS (
         UPDATE deia_queue_items SET state = $4, lease_until = NULL
         WHERE queue = $1 AND id = $2 AND state = 'leased'
           AND (CASE WHEN $7::int IS NULL THEN lease_until > $3 ELSE claim_count = $7::int AND claimed_by = $8 END)
         RETURNING queue, id
       ), audit AS (
         INSERT INTO deia_queue_events (queue, id, event, at, by) SELECT queue, id, $5, $3, $8 FROM c
       )
       SELECT count(*)::int AS n, CASE WHEN $4 = 'ready' AND count(*) > 0 THEN pg_notify($6, 'q:' || $1) END FROM c`,
      [queue, id, now, next, event, CHANNEL, only?.claim ?? null, only?.by ?? null],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  ack(queue: string, id: string, only?: SettleOptions): Promise<boolean> {
    return this.settle(queue, id, 'ack', only);
  }

  nack(queue: string, id: string, only?: SettleOptions): Promise<boolean> {
    return this.settle(queue, id, 'nack', only);
  }

  async list<T>(queue: string, opts: { states?: QueueItem['state'][]; limit?: number } = {}): Promise<QueueItem<T>[]> {
    checkName('queue', queue);
    const { rows } = await this.db.query<ItemRow>(
      `SELECT * FROM deia_queue_items
       WHERE queue = $1 AND (CASE WHEN $3::text[] IS NULL THEN state <> 'done' AND ${CLAIMABLE} ELSE state = ANY($3::text[]) END)
       ORDER BY priority, created_at, id LIMIT $4::int`,
      [queue, this.db.clock(), opts.states ?? null, opts.limit ?? null],
    );
    return rows.map((r) => toItem<T>(r));
  }

  async get<T>(queue: string, id: string): Promise<QueueItem<T> | undefined> {
    checkName('queue', queue);
    const { rows } = await this.db.query<ItemRow>('SELECT * FROM deia_queue_items WHERE queue = $1 AND id = $2', [queue, id]);
    return rows[0] ? toItem<T>(rows[0]) : undefined;
  }

  async names(): Promise<string[]> {
    const { rows } = await this.db.query<{ queue: string }>('SELECT DISTINCT queue FROM deia_queue_items ORDER BY queue');
    return rows.map((r) => r.queue);
  }

  async remove(queue: string, ids: readonly string[]): Promise<{ removed: string[] }> {
    checkName('queue', queue);
    if (ids.length === 0) return { removed: [] };
    // One statement: the items and their claim history go together or not at all.
    const { rows } = await this.db.query<{ id: string }>(
      `WITH gone AS (DELETE FROM deia_queue_items WHERE queue = $1 AND id = ANY($2::text[]) RETURNING id),
            ev AS (DELETE FROM deia_queue_events WHERE queue = $1 AND id IN (SELECT id FROM gone))
       SELECT id FROM gone ORDER BY id`,
      [queue, [...ids]],
    );
    return { removed: rows.map((r) => r.id) };
  }
}

// ---------------------------------------------------------------- documents

async function getDoc<T>(c: Queryable, key: string): Promise<Versioned<T> | undefined> {
  const { rows } = await c.query<{ value: string; version: string }>('SELECT value, version FROM deia_docs WHERE key = $1', [key]);
  return rows[0] ? { value: JSON.parse(rows[0].value) as T, version: Number(rows[0].version) } : undefined;
}

async function putDoc(c: Queryable, key: string, value: unknown): Promise<number> {
  const { rows } = await c.query<{ version: string }>(
    `INSERT INTO deia_docs AS d (key, version, value) VALUES ($1, 1, $2)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = d.version + 1
     RETURNING version, pg_notify($3, 'd:' || $1)`,
    [key, JSON.stringify(value), CHANNEL],
  );
  return Number(rows[0]!.version);
}

async function deleteDoc(c: Queryable, key: string): Promise<void> {
  await c.query(`WITH d AS (DELETE FROM deia_docs WHERE key = $1 RETURNING key) SELECT pg_notify($2, 'd:' || key) FROM d`, [key, CHANNEL]);
}

class PgDocuments implements Documents {
  constructor(private readonly db: PostgresBackend) {}

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    checkName('document key', key);
    return this.db.withClient((c) => getDoc<T>(c, key));
  }

  async put<T>(key: string, value: T, opts: { ifVersion?: number } = {}): Promise<{ version: number }> {
    checkName('document key', key);
    if (opts.ifVersion === undefined) return { version: await this.db.withClient((c) => putDoc(c, key, value)) };
    const expected = opts.ifVersion;
    return this.db.inTransaction(async (c) => {
      const { rows } = await c.query<{ version: string }>('SELECT version FROM deia_docs WHERE key = $1 FOR UPDATE', [key]);
      const actual = rows[0] ? Number(rows[0].version) : 0;
      if (actual !== expected) throw new StoreConflict(key, expected, actual);
      if (expected === 0) {
        // Nothing to lock yet: the primary key decides between two creators.
        const ins = await c.query(
          `INSERT INTO deia_docs (key, version, value) VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING RETURNING pg_notify($3, 'd:' || $1)`,
          [key, JSON.stringify(value), CHANNEL],
        );
        if (ins.rowCount === 0) throw new StoreConflict(key, 0, Number((await getDoc(c, key))?.version ?? 1));
        return { version: 1 };
      }
      return { version: await putDoc(c, key, value) };
    });
  }

  async update<T, R>(key: string, fn: (current: T | undefined) => { value?: T; result: R } | Promise<{ value?: T; result: R }>): Promise<R> {
    checkName('document key', key);
    return this.db.inTransaction(async (c) => {
      // An advisory lock rather than a row lock: it also serialises the first writers of a key that does not exist yet.
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`deia:d:${key}`]);
      const cur = await getDoc<T>(c, key);
      const { value, result } = await fn(cur?.value);
      if (value !== undefined) await putDoc(c, key, value);
      return result;
    });
  }

  async delete(key: string): Promise<void> {
    checkName('document key', key);
    await this.db.withClient((c) => deleteDoc(c, key));
  }

  async keys(prefix: string): Promise<string[]> {
    // starts_with, not LIKE: "_" and "." in a prefix are literal.
    const { rows } = await this.db.query<{ key: string }>('SELECT key FROM deia_docs WHERE starts_with(key, $1) ORDER BY key COLLATE "C"', [prefix]);
    return rows.map((r) => r.key);
  }

  async getAll<T>(prefix: string): Promise<Map<string, Versioned<T>>> {
    const { rows } = await this.db.query<{ key: string; value: string; version: string }>(
      'SELECT key, value, version FROM deia_docs WHERE starts_with(key, $1) ORDER BY key COLLATE "C"',
      [prefix],
    );
    const out = new Map<string, Versioned<T>>();
    for (const r of rows) {
      try {
        out.set(r.key, { value: JSON.parse(r.value) as T, version: Number(r.version) });
      } catch {
        // not JSON: left out, as the interface says (doctor names it)
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------- change signal

/**
 * LISTEN on a connection of its own. A notification for a watched topic, or the slow fallback
 * poll, wakes `changed()`. When the connection drops (a server restart) it reconnects, within
 * reconnectMs, and then wakes the waiter (a notification may have been missed while away);
 * if it cannot, `changed()` rejects with a one-line error: it never hangs.
 */
class PgWatcher implements Watcher {
  private client: pg.Client | undefined;
  private pending = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  onClose: (() => void) | undefined;

  constructor(
    private readonly db: PostgresBackend,
    private readonly topics: Set<string>,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const deadline = Date.now() + reconnectWindow(this.db.opts);
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      const c = this.db.newClient();
      c.on('error', () => this.lost(c));
      c.on('end', () => this.lost(c));
      c.on('notification', (n) => {
        if (n.channel === CHANNEL && n.payload !== undefined && this.topics.has(n.payload)) this.signal();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANNEL}`);
        this.client = c;
        return;
      } catch (e) {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
        if (!isConnectionError(e) || Date.now() + wait > deadline || this.closed) throw this.db.errors.wrap(e);
        await sleep(wait);
      }
    }
  }

  private signal(): void {
    this.pending = true;
    this.wake?.();
  }

  private lost(c: pg.Client): void {
    if (this.closed || this.client !== c) return;
    this.client = undefined;
    c.end().catch(() => undefined);
    this.reconnecting ??= this.connect()
      .then(() => this.signal()) // something may have changed while we were not listening
      .catch((e: Error) => {
        this.failure = e;
        this.wake?.();
      })
      .finally(() => (this.reconnecting = undefined));
  }

  async changed(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const take = (): boolean | undefined => {
      if (this.failure) throw this.failure;
      if (this.pending) {
        this.pending = false;
        return true;
      }
      return undefined;
    };
    const now = take();
    if (now !== undefined) return now;
    if (opts.signal?.aborted || this.closed) return false;
    return new Promise<boolean>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (v: boolean | Error) => {
        for (const t of timers) clearTimeout(t);
        opts.signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const onAbort = () => finish(false);
      this.wake = () => {
        try {
          const v = take();
          if (v !== undefined) finish(v);
          else if (this.closed) finish(false);
        } catch (e) {
          finish(e as Error);
        }
      };
      opts.signal?.addEventListener('abort', onAbort);
      if (opts.timeoutMs !== undefined) timers.push(setTimeout(() => finish(false), opts.timeoutMs));
      // The slow poll: wakes the caller to look again in case a notification was lost.
      timers.push(setTimeout(() => finish(true), this.db.opts.pollMs ?? 5000));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
    this.onClose?.();
  }
}

export async function openPostgresBackend(url: string, opts: PostgresOpenOptions = {}): Promise<PostgresBackend> {
  const db = new PostgresBackend(url, opts.clock ?? systemClock, opts);
  try {
    await db.start();
  } catch (e) {
    await db.close();
    throw e;
  }
  return db;
}
