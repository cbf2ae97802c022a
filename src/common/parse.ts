/**
 * Parsing and formatting of the small values several commands share (durations, priorities,
 * token counts, ages), pure. One concept, one place: `--duration 90min` and `--since 90min`
 * must mean the same thing, and an age must read the same in `inbox`, `task list` and `doctor`.
 * Callers pass `what` (the option or field name) so each error still names what the user typed.
 */
import { UsageError } from './errors.js';

export const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof PRIORITIES)[number];

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** What a shown value looks like in an error: quoted, and short enough for one line. */
function shown(v: unknown): string {
  return JSON.stringify(String(v)).slice(0, 40);
}

export interface DurationOptions {
  /** Names the value in errors (default `--duration`). */
  what?: string;
  /**
   * A bare number means milliseconds (what `record --duration` has always documented).
   * Off where a bare number is more likely a mistake than milliseconds (`--since 90`).
   */
  bareMs?: boolean;
}

/** "1500ms", "1.5s", "2m" / "2min", "1h", "1d", or a bare number of milliseconds: ms, rounded. */
export function parseDuration(text: unknown, opts: DurationOptions = {}): number {
  const what = opts.what ?? '--duration';
  const s = String(text ?? '').trim().toLowerCase();
  const m = /^(-?\d+(?:\.\d+)?|-?\.\d+)\s*(ms|s|sec|min|m|h|d)?$/.exec(s);
  if (!m || (m[2] === undefined && opts.bareMs === false)) {
    throw new UsageError(`${what}: cannot read ${shown(text)} as a duration`, 'write e.g. 1500ms, 1.5s, 2m, 1h or 1d');
  }
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms) || ms < 0) throw new UsageError(`${what} must not be negative (got ${s})`, 'e.g. 1.5s');
  return Math.round(ms);
}

/** P0..P3, any case. `where` prefixes the error (e.g. "stdin line 3: "). */
export function parsePriority(text: unknown, where = ''): Priority {
  const s = typeof text === 'string' ? text.trim().toUpperCase() : text;
  if (!PRIORITIES.includes(s as Priority)) {
    throw new UsageError(`${where}unknown priority ${shown(text)}`, 'use one of P0 (critical), P1, P2 (default), P3 (low)');
  }
  return s as Priority;
}

/** A token count: a non-negative whole number, given as a number (JSON) or its digits (a flag). */
export function parseTokens(v: unknown, what = '--tokens'): number {
  const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${what} must be a non-negative integer (got ${shown(v)})`, 'give the token count, e.g. --tokens 900');
  }
  return n;
}

/**
 * A short age for tables and notes: `45s`, `3m`, `2h`, `4d`. Whole units, rounded down (an
 * age never claims more time than has passed); hours up to two days, since "36h" says more
 * than "1d". Negative ages (clock skew between bots) read as 0s.
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** A word a POSIX shell reads back as it is (for commands printed as hints): quoted only when needed. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
