/**
 * What a backend stores, as `deia doctor` reads it below the storage interface (a payload or a
 * document that does not parse would make the interface throw, and doctor has to see those):
 * the shapes both backends' readers (postgres/inspect.ts, file/inspect.ts) hand to doctor.
 */

export interface RawItem {
  queue: string;
  id: string;
  state: 'ready' | 'leased' | 'done';
  /** As stored, as text. */
  payload: string;
  lease_until: number | null;
  claimed_by: string | null;
}

export interface RawDocument {
  key: string;
  /** The value as stored, as text. */
  value: string;
  /** Why what is stored is not a document at all (a file:// folder's `{version, value}` envelope), if so. */
  stored?: string;
}

export interface RawLogLine {
  log: string;
  /** Its sequence number (PostgreSQL) or line number (a folder). */
  seq: number;
  line: string;
}
