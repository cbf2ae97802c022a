/** Message shapes (DESIGN.md "JSON shapes"); field names continue the original design's. */

// Priorities are shared with tasks (a task's priority is its assignment message's): defined once.
import type { Priority } from '../common/parse.js';
export { PRIORITIES, type Priority } from '../common/parse.js';

export type MessageStatus = 'pending' | 'delivered' | 'read' | 'failed' | 'expired';
export const STATUSES: readonly MessageStatus[] = ['pending', 'delivered', 'read', 'failed', 'expired'];

export interface SendInput {
  to: string;
  body: string;
  from?: string;
  priority?: Priority;
  ttl?: number;
  reply_to?: string;
  subject?: string;
  key?: string;
  metadata?: Record<string, unknown>;
}

export interface Message {
  message_id: string;
  from_bot: string;
  to_bot: string;
  content: string;
  subject: string | null;
  priority: Priority;
  status: MessageStatus;
  created_at: string;
  delivered_at: string | null;
  read_at: string | null;
  retry_count: number;
  max_retries: number;
  ttl_seconds: number;
  expires_at: string;
  next_attempt_at: string | null;
  last_error: string | null;
  reply_to: string | null;
  metadata: Record<string, unknown>;
  /** How many times the message was claimed with a lease (`inbox --next --lease`); 0 otherwise. */
  claim_count: number;
  /** Who made the latest lease claim (the claimer's --as), or null. */
  claimed_by: string | null;
  /** When the current lease lapses (ISO), or null when the message is not under a lease. */
  lease_expires_at: string | null;
}

/**
 * One line of mailboxes/<bot>.jsonl: a delivered message, or an event folded onto it:
 * `read` (marked read, or claimed at most once), `claim` (claimed with a lease until `until`
 * by `by`; `n` = the message's claim_count after it), `ack` / `nack` (the holder `by` of claim
 * number `n` is done / gives it back). See rules.ts `applyLeaseEvent` for the fold.
 */
export type MailboxRecord =
  | { t: 'msg'; m: Message }
  | { t: 'read'; id: string; at: string }
  | LeaseEvent;

export type LeaseEvent =
  | { t: 'claim'; id: string; at: string; by: string; until: string; n: number }
  | { t: 'ack'; id: string; at: string; by: string; n: number }
  | { t: 'nack'; id: string; at: string; by: string; n: number };

/** One line of outbox.jsonl: a queued message, or a transition of one. */
export type OutboxRecord =
  | { t: 'msg'; m: Message }
  | { t: 'retry'; id: string; retry_count: number; next_attempt_at: string; reason: string }
  | { t: 'delivered'; id: string; at: string }
  | { t: 'failed'; id: string; at: string; reason: string; retry_count?: number }
  | { t: 'expired'; id: string; at: string };

/**
 * One line of keys/<sender>.jsonl, written BEFORE the messages it plans (rule 6): a send
 * with a key already recorded stores only those of its messages that are missing (a crash
 * between this line and the mailbox / outbox append) and returns them all.
 * Records older than `messaging.key_retention_hours` are dropped by `compactKeys`, so the
 * full copies kept for that re-store do not accumulate.
 */
export interface KeyRecord {
  key: string;
  /** When the key was first used (ISO); what compaction ages records by. */
  at: string;
  /** The message ids, in order: one, or one per recipient for @all. */
  ids: string[];
  /** The planned messages, as the first send stored them (status delivered, pending or failed). */
  messages: Message[];
}

export interface KeyCompactResult {
  /** Key files rewritten (or that would be, in a dry run). */
  files: number;
  dropped: number;
  kept: number;
}

export type AuditEventName =
  | 'message_queued'
  | 'message_delivered'
  | 'message_read'
  | 'message_claimed'
  | 'message_acked'
  | 'message_released'
  | 'message_failed'
  | 'message_expired'
  | 'message_retry'
  | 'cleanup_completed';

/** One line of bot-messaging.jsonl: exactly these keys. */
export interface AuditRecord {
  timestamp: string;
  event: AuditEventName;
  message_id: string | null;
  from_bot: string | null;
  to_bot: string | null;
  priority: Priority | null;
  status: MessageStatus | null;
  details: Record<string, unknown> | null;
}

export interface InboxOptions {
  priority?: Priority;
  all?: boolean;
  limit?: number;
  markRead?: boolean;
  next?: boolean;
  /** Seconds to wait for a message when none is there. */
  wait?: number;
  /**
   * With `next`: claim with a lease instead of marking read (at-least-once). Milliseconds,
   * or a duration text such as '30s', '10m', '1h'. The message is invisible to other
   * claimers until `ack`, `nack`, or the lease lapses.
   */
  lease?: number | string;
}

export interface AckOptions {
  /** The inbox holding the messages (default: the acting bot's, else any inbox). */
  inbox?: string;
  /** The claim number (the message's claim_count when claimed): refuse if it was claimed again since. */
  claim?: number;
}

export interface DeliverResult {
  delivered: number;
  retried: number;
  failed: number;
  expired: number;
}

export interface QueueDepth {
  pending: number;
  unread: number;
  total: number;
  by_bot: Record<string, { pending: number; unread: number }>;
}

export interface CompactResult {
  mailboxes: number;
  dropped: number;
  kept: number;
}
