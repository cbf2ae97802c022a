/**
 * The storage interface: what domain code may ask of a backend, in records, never in files.
 *
 * Two backends implement it: the folder of JSONL files (src/store/file, the default, nothing to
 * set up) and PostgreSQL (src/store/postgres, for hives spread over several machines). Both keep
 * the same guarantees; the contract tests (test/store-contract.test.ts) run against both.
 *
 * Nothing here names a domain (no "outbox", no "mailbox"): callers choose the names of their
 * logs, queues and documents. Nothing here is an offset, an inode, a byte size, a file name or a
 * lock: a cursor is an opaque string, only meaningful to the backend that gave it.
 */
import type { Clock } from '../common/clock.js';
import { DeiaError } from '../common/errors.js';

/** Names of logs and queues, and document keys: safe as file names and as SQL values alike. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A position in a log, opaque to the caller: store it, hand it back, never parse it. */
export type Cursor = string & { readonly __brand: 'deia.Cursor' };

export interface LogReadResult<T> {
  records: T[];
  /** Where this read stopped; hand it to the next `readSince`. */
  cursor: Cursor;
  /**
   * True when the cursor no longer named a position (the log was rewritten under it, or the
   * cursor came from elsewhere): `records` then holds the whole log as it is now, so a caller
   * keeping aggregates drops them and folds again.
   */
  reset: boolean;
}

/**
 * An append-only log of JSON records (outcomes, samples, audit events). Each record is stored
 * as the exact text `JSON.stringify` gave when it was appended, so `exportLines` gives back the
 * appended lines byte for byte, on either backend.
 */
export interface Log<T extends object = Record<string, unknown>> {
  readonly name: string;
  /** Append records, in order, as one atomic step (all or none are stored). */
  append(records: readonly T[]): Promise<void>;
  /** The records appended after `cursor` (all of them without one), oldest first. */
  readSince(cursor?: Cursor): Promise<LogReadResult<T>>;
  /** The cursor at the end of the log now (for a reader that starts from "here on"). */
  end(): Promise<Cursor>;
  /** Every record, oldest first, in bounded memory however long the log is. */
  stream(): AsyncIterable<T>;
  /**
   * Move records older than `before` (by the log's `timeOf`) to the log's archive, atomically
   * per record: a record is in the log or in the archive, never in neither.
   */
  archiveOlderThan(before: number): Promise<{ archived: number }>;
  /**
   * Move the records `pick` chooses to the log's archive (retention by a rule of the caller's,
   * e.g. every record of a finished task), atomically per record as `archiveOlderThan`: a record
   * is in the log or in the archive, never in neither (on PostgreSQL one statement moves them, so
   * never in both either; in a folder the archive is appended before the log is replaced, so a
   * crash in between leaves copies in both, never a loss). `pick` sees every record of
   * the log once, oldest first; records appended while it runs are not looked at, so a caller
   * whose rule depends on the whole log holds the log in a `transaction` scope meanwhile (the
   * appends of other transactions then wait). Returns how many records moved.
   */
  archiveWhere(pick: (record: T) => boolean): Promise<{ archived: number }>;
  /** The archived records, oldest first (what retention moved away). */
  streamArchive(): AsyncIterable<T>;
  /** The log as JSONL text: one line per record, each ending in "\n", byte-identical to what was appended. */
  exportLines(): AsyncIterable<string>;
  /**
   * Only where a log is a file (a folder, the file backend; PostgreSQL keeps its rows and has
   * none): once the live log is past `maxBytes`, move it aside whole as the newest of its rotated
   * generations, keeping `generations` of them (the oldest beyond dropped), under the lock its
   * appends take; null when it is not past the size. With `dryRun`, only says what it would do.
   * The rotated records stay part of the log for `stream` and `exportLines` (oldest first);
   * `readSince` goes on from its cursor into the new live log, losing nothing.
   */
  rotate?(opts: RotateOptions): Promise<Rotation | null>;
  /** Where there is `rotate`: `exportLines`, each line with whether it lies in a rotated generation rather than the live log. */
  exportParts?(): AsyncIterable<{ line: string; rotated: boolean }>;
}

export interface RotateOptions {
  maxBytes: number;
  /** How many rotated generations to keep (at least 1). */
  generations: number;
  dryRun?: boolean;
}

/** A rotation, as the backend names its files (safe to print). */
export interface Rotation {
  /** The live log's size when moved. */
  bytes: number;
  /** Where it went (in a folder `<log>.1.jsonl`). */
  to: string;
  /** The generation dropped to make room, or null. */
  dropped: string | null;
}

export interface LogOptions<T> {
  /**
   * When a record happened (ms since the epoch), for retention by age. Records for which it
   * gives `undefined` are never archived by age.
   */
  timeOf?: (record: T) => number | undefined;
}

/** One item of a queue, as a claimer sees it. */
export interface QueueItem<T = unknown> {
  id: string;
  /** Lower is more urgent: claims take the lowest priority first, then the oldest. */
  priority: number;
  /** Ms since the epoch: the age order within a priority. */
  createdAt: number;
  payload: T;
  /** `ready`: claimable; `leased`: claimed for a while; `done`: claimed for good, or acknowledged. */
  state: 'ready' | 'leased' | 'done';
  /** How many times it was claimed (a lease that lapsed and was claimed again counts twice). */
  claimCount: number;
  /** For a leased item: when the lease lapses (ms since the epoch). */
  leaseUntil?: number;
  /** Who claimed it last (as given to `claimNext`). */
  claimedBy?: string;
  /** When it was claimed last (ms since the epoch). */
  claimedAt?: number;
}

export interface EnqueueInput<T = unknown> {
  /** Unique within the queue: enqueueing an id that is already there stores nothing (idempotent). */
  id: string;
  priority: number;
  payload: T;
  /** Defaults to the store's clock. */
  createdAt?: number;
}

export interface ClaimOptions {
  /**
   * Claim for this many ms only: the item is invisible to other claimers until `ack`, `nack`, or
   * the lease lapsing (then it is claimable again, at-least-once). Without it the claim is final:
   * exactly once.
   */
  leaseMs?: number;
  /** Recorded with the claim (who took it). */
  by?: string;
  /** Only items of this priority. */
  priority?: number;
}

/**
 * Settle only one claim: `claim` is the claim number (`claimCount` as the claim returned) and `by`
 * the claimer. Then a lapsed lease not yet claimed again may still be settled by its holder (no
 * one else holds it), while one claimed again since is refused (its claim number moved on).
 */
export interface SettleOptions {
  claim: number;
  by: string;
}

/**
 * Per-name queues (one per recipient, say): enqueue, claim the next by priority then age, each
 * item handed out to exactly one claimer however many processes claim at once.
 */
export interface Queues {
  /** Store items (in one atomic step). Returns the ids that were new; ids already there are left as they were. */
  enqueue<T>(queue: string, items: readonly EnqueueInput<T>[]): Promise<{ added: string[] }>;
  /**
   * Store items as they stand elsewhere (state, claim count, claimer, lease), in one atomic step:
   * for copying a hive between backends (`deia migrate`). Returns the ids that were new; ids
   * already there are left as they were.
   */
  restore<T>(queue: string, items: readonly QueueItem<T>[]): Promise<{ added: string[] }>;
  /** Claim the most urgent, oldest claimable item, or `null` when there is none. */
  claimNext<T>(queue: string, opts?: ClaimOptions): Promise<QueueItem<T> | null>;
  /** Claim this item if it is claimable (as `claimNext` would, but by id); `null` when it is not. */
  take<T>(queue: string, id: string, opts?: ClaimOptions): Promise<QueueItem<T> | null>;
  /**
   * `take` of several ids at once: the items claimed, in the order given (those not claimable
   * left out). Optional: where a `take` costs a read of the whole queue (a folder), one read and
   * one write for all; a caller without it takes them one by one.
   */
  takeMany?<T>(queue: string, ids: readonly string[], opts?: ClaimOptions): Promise<QueueItem<T>[]>;
  /**
   * Remove the items `pick` chooses (retention), in one atomic step; `dryRun` only counts them.
   * `pick` sees each item once, its payload as `project` keeps it. Optional: where a queue is read
   * whole to be folded (a folder), this reads it as a stream holding only each item's state and its
   * projection, so a big inbox is pruned in little memory; a caller without it lists and removes.
   */
  removeWhere?<T, P>(queue: string, project: (payload: T) => P, pick: (item: QueueItem<P>) => boolean, opts?: { dryRun?: boolean }): Promise<{ removed: number }>;
  /** Finish a leased item. False when it was not leased (lapsed and reclaimed, already acked, unknown). */
  ack(queue: string, id: string, opts?: SettleOptions): Promise<boolean>;
  /** Give a leased item back (claimable again now). False when it was not leased. */
  nack(queue: string, id: string, opts?: SettleOptions): Promise<boolean>;
  /** Items in claim order; by default the claimable ones only (`ready`, or leased with a lapsed lease). */
  list<T>(queue: string, opts?: { states?: QueueItem['state'][]; limit?: number }): Promise<QueueItem<T>[]>;
  /** Look at one item without claiming it. */
  get<T>(queue: string, id: string): Promise<QueueItem<T> | undefined>;
  /** Names of queues that hold at least one item (in any state). */
  names(): Promise<string[]>;
  /** Forget these items for good, whatever their state, in one atomic step (retention). Returns the ids that were there. */
  remove(queue: string, ids: readonly string[]): Promise<{ removed: string[] }>;
}

export interface Versioned<T> {
  value: T;
  /** Starts at 1 and grows by one per write: the token for optimistic updates. */
  version: number;
}

/** Small JSON documents by key (state, aggregates, settings). */
export interface Documents {
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  /**
   * Write a document. With `ifVersion`, only when its version is still that one (0: only when it
   * does not exist yet); otherwise a `StoreConflict` is thrown and nothing is written.
   */
  put<T>(key: string, value: T, opts?: { ifVersion?: number }): Promise<{ version: number }>;
  /**
   * Read-modify-write under the document's lock: `fn` sees the current value (or undefined) and
   * returns the new one (or undefined to leave it) and a result for the caller.
   */
  update<T, R>(key: string, fn: (current: T | undefined) => { value?: T; result: R } | Promise<{ value?: T; result: R }>): Promise<R>;
  delete(key: string): Promise<void>;
  /** Keys of the documents whose key starts with `prefix`, sorted (e.g. every `key.` document, for retention). */
  keys(prefix: string): Promise<string[]>;
  /**
   * Every document whose key starts with `prefix`, in one read (one query on PostgreSQL, not one
   * per document), by key; documents that do not parse are left out (`deia doctor` reports them).
   */
  getAll<T>(prefix: string): Promise<Map<string, Versioned<T>>>;
}

/** What a transaction may touch: named up front, so a backend can lock them in one global order. */
export interface TransactionScope {
  docs?: readonly string[];
  logs?: readonly string[];
  queues?: readonly string[];
  /**
   * For a read that stores only what it worked out on the way (folded aggregates, audit lines of a
   * look): where the store cannot be written at all (a read-only mount, another user's hive), run
   * `fn` on what is stored now and drop its writes, rather than fail. A store that can be written
   * runs the transaction as usual.
   */
  answerReadOnly?: boolean;
}

/** Inside `transaction`: reads see the locked state; writes are applied together at commit. */
export interface Transaction {
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  put<T>(key: string, value: T): void;
  delete(key: string): void;
  append(log: string, records: readonly object[]): void;
  enqueue<T>(queue: string, items: readonly EnqueueInput<T>[]): void;
}

export type WatchTarget = { queue: string } | { log: string } | { doc: string };

/**
 * A change signal. Created before checking (so a change right after the check is not missed),
 * then waited on: resolves true when something watched may have changed (re-check: a wake-up
 * can be spurious, e.g. after a reconnect), false on timeout or abort.
 */
export interface Watcher {
  changed(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean>;
  close(): Promise<void>;
}

export interface StorageBackend {
  /** `file` or `postgres`. */
  readonly kind: 'file' | 'postgres';
  /** Where the hive lives, safe to print (a connection string's password is replaced by `***`). */
  readonly location: string;
  log<T extends object = Record<string, unknown>>(name: string, opts?: LogOptions<T>): Log<T>;
  readonly queues: Queues;
  readonly docs: Documents;
  /** Run `fn` holding the named documents, logs and queues; its writes commit together or not at all. */
  transaction<R>(scope: TransactionScope, fn: (tx: Transaction) => Promise<R> | R): Promise<R>;
  watch(targets: readonly WatchTarget[]): Promise<Watcher>;
  close(): Promise<void>;
  /** PostgreSQL opened with `migrate`: the schema version before and after, and the migrations applied. */
  readonly migration?: { from: number; to: number; applied: number[] };
}

export interface OpenOptions {
  clock?: Clock;
  /** Receives one line per problem found in stored data (torn or corrupt lines). */
  warn?: (message: string) => void;
  /** A folder's locks: how long a holder may be silent before it counts as dead, and the longest wait (config's store.lock_stale_ms, store.lock_max_wait_ms). */
  lock?: { staleMs: number; maxWaitMs: number };
}

/** Ids of queue items: also ':' (message ids allow it); never file names. */
const ITEM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkName(kind: string, name: string): void {
  if (!(kind === 'item id' ? ITEM_ID_PATTERN : NAME_PATTERN).test(name)) {
    throw new StoreError(`invalid ${kind} name: ${JSON.stringify(name)}`, 'names use letters, digits, ".", "_" and "-" (at most 128)');
  }
  // In a folder `<log>.<N>.jsonl` is a rotated generation of `<log>` (file/generations.ts), never a log of its own.
  if (kind === 'log' && /\.\d+$/.test(name)) {
    throw new StoreError(`invalid log name: ${JSON.stringify(name)}`, 'a log name does not end in "." and digits (the names of rotated generations)');
  }
}

/** A problem of the store (unreachable, refused, conflicting); the CLI prints it as one line. */
export class StoreError extends DeiaError {
  constructor(message: string, hint?: string, code = 'ESTORE') {
    super(message, hint, 1, code);
    this.name = 'StoreError';
  }
}

/** An optimistic write lost: the document changed since it was read. */
export class StoreConflict extends StoreError {
  constructor(key: string, expected: number, actual: number) {
    super(`document ${key} is at version ${actual}, not ${expected}`, 'read it again and retry', 'ECONFLICT');
    this.name = 'StoreConflict';
  }
}
