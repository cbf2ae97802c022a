import { UsageError } from './errors.js';

/** Source of new record ids (uuid v4 by default); injected so tests can predict ids. */
export type IdSource = () => string;

// globalThis.crypto (Web Crypto) loads node:crypto only on first use, not at start-up.
export const uuidSource: IdSource = () => globalThis.crypto.randomUUID();

/** A counter-based id source for tests and simulations: exact and reproducible. */
export function sequentialIds(prefix = 'id'): IdSource {
  let n = 0;
  return () => `${prefix}-${String(++n).padStart(6, '0')}`;
}

// Bot ids become file names (mailboxes/<bot>.jsonl), so nothing that could
// climb out of the folder, hide a file, or confuse a shell is accepted.
export const BOT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isBotId(s: unknown): s is string {
  // `.corrupt` is reserved: NAME.corrupt.jsonl beside a mailbox holds its damaged lines.
  return typeof s === 'string' && BOT_ID_PATTERN.test(s) && !s.includes('..') && !/\.corrupt$/i.test(s);
}

export function validateBotId(s: unknown, what = 'bot id'): string {
  if (!isBotId(s)) {
    const shown = JSON.stringify(String(s)).slice(0, 80);
    throw new UsageError(
      `invalid ${what} ${shown}`,
      'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, no "..", not ending in ".corrupt"',
    );
  }
  return s;
}
