/**
 * The report of `deia doctor`, the same for every backend: doctor.ts fills it for a folder,
 * doctor-postgres.ts for a PostgreSQL store, doctor-interface.ts for a file:// folder (each imports
 * it from here, none from another).
 */

export type ProblemKind =
  | 'config'
  | 'corrupt_line'
  | 'torn_tail'
  | 'stale_lock'
  | 'orphan_temp'
  | 'world_writable'
  | 'symlink'
  | 'unreadable'
  | 'audit_mismatch'
  // a folder deia 0.1 made (--repair upgrades it in place):
  | 'old_layout'
  // PostgreSQL (doctor-postgres.ts):
  | 'schema'
  | 'bad_payload'
  | 'lapsed_lease'
  | 'overdue_mail'
  | 'bad_document'
  // file:// folder (doctor-interface.ts):
  | 'pending_transaction';

export interface Problem {
  kind: ProblemKind;
  /** Path relative to the hive folder (a file:// folder's too); on PostgreSQL `queue NAME`, `document KEY`, `log NAME` or `schema`. */
  path: string;
  /** 1-based line, for corrupt and torn lines (on PostgreSQL: the log line's sequence number). */
  line?: number;
  /** Age in ms, for locks, temp files and pending transactions. */
  age_ms?: number;
  detail: string;
  /** Fixed by --repair in this run. */
  repaired: boolean;
  /** What --repair did, or why it cannot fix this. */
  action?: string;
}

export interface DoctorResult {
  /** The hive folder; on PostgreSQL the store's connection string without its password. */
  dir: string;
  /** On PostgreSQL: whether deia's schema is in the database. */
  exists: boolean;
  /**
   * Which backend was checked: `file` a folder, `postgres` a PostgreSQL store, `interface` a
   * file:// folder (a folder through the storage interface's file backend).
   * `schema_version` / `schema_expected`: PostgreSQL's migrations (null otherwise).
   * `not_applicable`: checks of another backend that did not run here (on PostgreSQL the
   * folder's files, locks, temp files, permissions and links).
   */
  store: { kind: 'file' | 'postgres' | 'interface'; schema_version: number | null; schema_expected: number | null; not_applicable: string[] };
  repair: boolean;
  /** No problem left (after repairs, with --repair). */
  ok: boolean;
  files_checked: number;
  records_checked: number;
  problems: Problem[];
  /**
   * Mailboxes against the audit log: messages the log says were delivered (`message_delivered`,
   * every kept generation) must be in the recipient's mailbox or archive; a missing one is an
   * `audit_mismatch` problem. Mailbox messages without a delivered event are only counted
   * (`unlogged`): a crash between the two writes leaves that, and the next delivery logs it.
   */
  audit: { mailboxes: number; in_mailboxes: number; archived: number; delivered_events: number; missing: number; unlogged: number };
  /** Locks held right now by live processes (not problems). */
  held_locks: Array<{ path: string; age_ms: number; pid: number | null }>;
  repaired: number;
}

/** Corrupt lines listed per file; the rest are counted. */
export const MAX_LISTED_PER_FILE = 20;

/** A report with nothing found yet, for either backend. */
export function emptyDoctorResult(dir: string, exists: boolean, store: DoctorResult['store'], repair: boolean): DoctorResult {
  return {
    dir,
    exists,
    store,
    repair,
    ok: true,
    files_checked: 0,
    records_checked: 0,
    problems: [],
    audit: { mailboxes: 0, in_mailboxes: 0, archived: 0, delivered_events: 0, missing: 0, unlogged: 0 },
    held_locks: [],
    repaired: 0,
  };
}

/** A bad line shown short: quoted, at most 60 characters. */
export function preview(text: string): string {
  const s = JSON.stringify(text);
  return s.length > 60 ? s.slice(0, 57) + '…"' : s;
}
