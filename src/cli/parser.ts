/**
 * The one place where command-line values are checked and converted (as npm's base-cmd.js
 * does for its flags): a command declares each option's type, and its `exec` receives the
 * value already converted, or the user gets one usage error naming the flag. No command
 * parses numbers or durations of its own.
 */
import { UsageError } from '../common/errors.js';
import { parseDuration, parsePriority } from '../common/parse.js';
import type { OptionSpec } from './command.js';

/**
 * `string` (default) and `boolean` as written; `int` a whole number within min..max;
 * `duration` milliseconds from `30s`, `2m`, `1h`, `500ms` (a bare number is `unit`);
 * `priority` P0..P3.
 */
export type OptionType = 'string' | 'boolean' | 'int' | 'duration' | 'priority';

/** Commander's camel-cased key of a flag: `--max-seconds <n>` -> maxSeconds. */
export function optionKey(flags: string): string {
  const long = /--([a-z0-9-]+)/i.exec(flags)?.[1] ?? '';
  return long.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The long flag as the user writes it, for messages. */
export function longFlag(flags: string): string {
  return /--[a-z0-9-]+/i.exec(flags)?.[0] ?? flags;
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000 } as const;

/** Converts one value by its declared type; throws a UsageError naming the flag. */
export function convertOption(spec: OptionSpec, value: unknown): unknown {
  if (value === undefined || typeof value === 'boolean') return value;
  const flag = longFlag(spec.flags);
  const text = String(value).trim();
  switch (spec.type ?? 'string') {
    case 'int': {
      const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        const range = spec.max === undefined ? `${min} or more` : `from ${min} to ${max}`;
        throw new UsageError(`${flag} must be a whole number ${range} (got ${JSON.stringify(String(value)).slice(0, 40)})`, `e.g. ${flag} ${Math.max(min, 1)}`);
      }
      return n;
    }
    case 'duration': {
      const unit = spec.unit ?? 's';
      // A bare number keeps the flag's historical unit (`--wait 30` is 30 seconds).
      const ms = /^\d+(?:\.\d+)?$/.test(text) ? Math.round(Number(text) * UNIT_MS[unit]) : parseDuration(text, { what: flag, bareMs: false });
      const min = spec.min ?? 0;
      if (ms < min || (spec.max !== undefined && ms > spec.max)) {
        throw new UsageError(`${flag} ${text} is out of range`, `give from ${min}ms${spec.max === undefined ? '' : ` to ${spec.max}ms`}, e.g. 30s, 2m, 1h`);
      }
      return ms;
    }
    case 'priority':
      return parsePriority(text, `${flag}: `);
    default:
      return value;
  }
}

/** Every declared option of a command, converted in place on `opts`. */
export function convertOptions(specs: readonly OptionSpec[] | undefined, opts: Record<string, unknown>): void {
  for (const spec of specs ?? []) {
    const key = optionKey(spec.flags);
    if (key in opts) opts[key] = convertOption(spec, opts[key]);
  }
}
