import { int, optStr, type Section } from '../config/schema.js';

export const storeSection = {
  lock_stale_ms: int(10_000, 'a lock not refreshed for this long belongs to a dead process and is taken over', 2_000, 600_000),
  lock_max_wait_ms: int(25_000, 'give up waiting for a lock after this long (must exceed lock_stale_ms)', 1_000, 3_600_000),
  url: optStr('where the hive lives instead of this folder: a postgres:// URL (--store and DEIA_STORE win over it; keep the password in PGPASSWORD or ~/.pgpass)'),
} satisfies Section;

export const cleanupSection = {
  log_max_bytes: int(10 * 1024 * 1024, 'audit logs larger than this are rotated to NAME.1.jsonl', 1024, 1_099_511_627_776),
  log_generations: int(5, 'rotated generations of each audit log to keep', 1, 100),
} satisfies Section;
