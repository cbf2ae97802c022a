/**
 * Pure messaging rules: validation, folding mailboxes and the outbox, ordering,
 * backoff, delivery decisions. No file system, no console; time comes in as `now`.
 */
import { iso } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import { parseDuration, parsePriority } from '../common/parse.js';
import type { Config } from '../config/index.js';
import {
  PRIORITIES,
  STATUSES,
  type AuditEventName,
  type AuditRecord,
  type DeliverResult,
  type LeaseEvent,
  type MailboxRecord,
  type Message,
  type MessageStatus,
  type OutboxRecord,
  type Priority,
  type SendInput,
} from './types.js';

export const ALL = '@all';

export function parseTtl(t: unknown, where = ''): number {
  const n = typeof t === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(t) ? Number(t) : t;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw new UsageError(`${where}TTL must be a positive whole number of seconds (got ${JSON.stringify(t)})`, 'e.g. --ttl 3600');
  }
  return n;
}

function botId(v: unknown, what: string, where: string): string {
  try {
    return validateBotId(v, what);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(where + e.message, e.hint);
    throw e;
  }
}

export interface ValidSend {
  to: string; // a bot id or '@all'
  from: string;
  body: string;
  priority: Priority;
  ttl: number;
  reply_to: string | null;
  subject: string | null;
  key: string | null;
  metadata: Record<string, unknown>;
}

/** Check one send before anything is written; `where` prefixes errors (e.g. "line 3: "). */
export function validateSend(input: SendInput, cfg: Config['messaging'], identity: string | undefined, where = ''): ValidSend {
  if (input === null || typeof input !== 'object') throw new UsageError(`${where}expected an object {to, body, ...}`);
  const fromRaw = input.from ?? identity;
  if (fromRaw === undefined || fromRaw === '') {
    throw new UsageError(`${where}sending needs to know which bot you are`, 'pass --from BOT / --as BOT or set DEIA_BOT');
  }
  const from = botId(fromRaw, 'sender', where);
  if (typeof input.to !== 'string') throw new UsageError(`${where}missing recipient "to"`, 'give a bot id or @all');
  const to = input.to === ALL ? ALL : botId(input.to, 'recipient', where);
  if (typeof input.body !== 'string' || input.body.trim() === '') {
    throw new UsageError(`${where}empty message body`, 'give the text as arguments, or "-" to read it from stdin');
  }
  const bytes = Buffer.byteLength(input.body, 'utf8');
  if (bytes > cfg.max_body_bytes) {
    throw new UsageError(
      `${where}message body is ${bytes} bytes, over the limit of ${cfg.max_body_bytes}`,
      'send a shorter body or a path to a file; the limit is messaging.max_body_bytes in config.json',
    );
  }
  const priority = input.priority === undefined ? parsePriority(cfg.default_priority) : parsePriority(input.priority, where);
  const ttl = input.ttl === undefined ? cfg.default_ttl_seconds : parseTtl(input.ttl, where);
  const opt = (v: unknown, name: string): string | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v === '') throw new UsageError(`${where}${name} must be a non-empty string`);
    return v;
  };
  const metadata = input.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new UsageError(`${where}metadata must be an object`);
  return {
    to,
    from,
    body: input.body,
    priority,
    ttl,
    reply_to: opt(input.reply_to, 'reply_to'),
    subject: opt(input.subject, 'subject'),
    key: opt(input.key, 'key'),
    metadata,
  };
}

const isoCache = { ms: NaN, text: '' };
/** iso() of the same instant over and over (a batch shares one clock reading): cached. */
export function isoOf(ms: number): string {
  if (ms !== isoCache.ms) {
    isoCache.ms = ms;
    isoCache.text = iso(ms);
  }
  return isoCache.text;
}

const expCache = { ms: NaN, text: '' };
function expiresIso(ms: number): string {
  if (ms !== expCache.ms) {
    expCache.ms = ms;
    expCache.text = iso(ms);
  }
  return expCache.text;
}

export function newMessage(v: ValidSend, to: string, id: string, now: number, cfg: Config['messaging'], nowIso = iso(now)): Message {
  return {
    message_id: id,
    from_bot: v.from,
    to_bot: to,
    content: v.body,
    subject: v.subject,
    priority: v.priority,
    status: 'pending',
    created_at: nowIso,
    delivered_at: null,
    read_at: null,
    retry_count: 0,
    max_retries: cfg.max_retries,
    ttl_seconds: v.ttl,
    expires_at: expiresIso(now + v.ttl * 1000),
    next_attempt_at: null,
    last_error: null,
    reply_to: v.reply_to,
    metadata: v.metadata,
    claim_count: 0,
    claimed_by: null,
    lease_expires_at: null,
  };
}

// ------------------------------------------------------------------ mailboxes

export interface MailboxState {
  /** Messages in file order (oldest delivery first). */
  messages: Message[];
  byId: Map<string, Message>;
  unread: number;
}

/** Fold a mailbox's records: message records, with read and lease events applied. */
export function foldMailbox(records: readonly MailboxRecord[]): MailboxState {
  const byId = new Map<string, Message>();
  const messages: Message[] = [];
  for (const r of records) {
    if (r.t === 'msg') {
      if (!r.m || typeof r.m.message_id !== 'string' || byId.has(r.m.message_id)) continue;
      const m = { ...r.m, status: 'delivered' as MessageStatus, read_at: null, ...NO_LEASE };
      byId.set(m.message_id, m);
      messages.push(m);
    } else if (r.t === 'read') {
      const m = byId.get(r.id);
      if (m && m.status !== 'read') {
        m.status = 'read';
        m.read_at = r.at;
        m.lease_expires_at = null;
      }
    } else {
      const m = byId.get(r.id);
      if (m) applyLeaseEvent(m, r);
    }
  }
  let unread = 0;
  for (const m of messages) if (m.status === 'delivered') unread++;
  return { messages, byId, unread };
}

const PRANK: Record<Priority, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };

/** P0 first, then oldest first (created_at, then order of arrival). Stable. */
export function sortInbox(messages: readonly Message[]): Message[] {
  return messages
    .map((m, i) => ({ m, i }))
    .sort(
      (a, b) =>
        PRANK[a.m.priority] - PRANK[b.m.priority] ||
        (a.m.created_at < b.m.created_at ? -1 : a.m.created_at > b.m.created_at ? 1 : 0) ||
        a.i - b.i,
    )
    .map((x) => x.m);
}

/**
 * Unread messages (or all with `all`), by priority then age. With `now`, unread messages
 * under a lease that has not lapsed are left out: they are invisible to other claimers.
 */
export function selectInbox(state: MailboxState, opts: { priority?: Priority; all?: boolean; limit?: number; now?: number }): Message[] {
  const shown = (m: Message) => opts.all || (m.status === 'delivered' && (opts.now === undefined || isClaimable(m, opts.now)));
  let list = state.messages.filter((m) => shown(m) && (!opts.priority || m.priority === opts.priority));
  list = sortInbox(list);
  if (opts.limit !== undefined) list = list.slice(0, opts.limit);
  return list;
}

// ------------------------------------------------------------------ leases

/*
 * Leases (at-least-once claims), as SQS's visibility timeout: `claim` hides an unread
 * message from other claimers until `until`; `ack` by the holder of the latest claim marks
 * it read; `nack` by that holder makes it claimable at once; a lapsed lease makes it
 * claimable again (the next claim counts up `claim_count`). A holder whose lease lapsed may
 * still ack or nack as long as nobody claimed it since. These are the whole semantics: every
 * backend folds (or applies) the same events with these functions.
 */

const NO_LEASE = { claim_count: 0, claimed_by: null, lease_expires_at: null } as const;

/** Shortest and longest lease (SQS allows up to 12 hours). */
export const LEASE_MIN_MS = 1000;
export const LEASE_MAX_MS = 12 * 3_600_000;

/** Unread and not under a live lease at `now`. */
export function isClaimable(m: Message, now: number): boolean {
  return m.status === 'delivered' && (m.lease_expires_at === null || Date.parse(m.lease_expires_at) <= now);
}

/** Apply one lease event to a folded message (in place). Events that do not fit the state are ignored. */
export function applyLeaseEvent(m: Message, e: LeaseEvent): void {
  if (m.status !== 'delivered' || typeof e.by !== 'string') return;
  if (e.t === 'claim') {
    if (!isClaimable(m, Date.parse(e.at)) || typeof e.until !== 'string') return;
    m.claim_count = (m.claim_count ?? 0) + 1;
    m.claimed_by = e.by;
    m.lease_expires_at = e.until;
    return;
  }
  if (m.claimed_by !== e.by || m.claim_count !== e.n || m.lease_expires_at === null) return;
  m.lease_expires_at = null;
  if (e.t === 'ack') {
    m.status = 'read';
    m.read_at = e.at;
  }
}

/** The earliest lease that lapses after `now` among unread messages, or null. */
export function nextLapseAt(messages: Iterable<Message>, now: number): number | null {
  let t: number | null = null;
  for (const m of messages) {
    if (m.status !== 'delivered' || m.lease_expires_at === null) continue;
    const u = Date.parse(m.lease_expires_at);
    if (u > now && (t === null || u < t)) t = u;
  }
  return t;
}

/** A lease length: milliseconds, or a duration text ('30s', '10m', '1h'); a bare number in text is refused. */
export function parseLease(v: unknown): number {
  const ms = typeof v === 'number' ? v : parseDuration(v, { what: '--lease', bareMs: false });
  if (!Number.isFinite(ms) || ms < LEASE_MIN_MS || ms > LEASE_MAX_MS) {
    throw new UsageError(`--lease must be between 1s and 12h (got ${JSON.stringify(v)})`, 'e.g. --lease 30s, --lease 10m or --lease 1h');
  }
  return Math.round(ms);
}

/** The claim event for `m` by `by` at `now` for `leaseMs`, and the message as the claimer sees it. */
export function leaseClaim(m: Message, by: string, now: number, leaseMs: number): { event: LeaseEvent; message: Message } {
  const event: LeaseEvent = { t: 'claim', id: m.message_id, at: iso(now), by, until: iso(now + leaseMs), n: m.claim_count + 1 };
  const message = { ...m };
  applyLeaseEvent(message, event);
  return { event, message };
}

export type Settle = 'ack' | 'nack';

/**
 * Whether `by` may ack / nack `m` (with `claim`, only that claim number): the event to append,
 * `null` when it is already done (an ack repeated after it succeeded), or why not.
 */
export function decideSettle(
  m: Message,
  kind: Settle,
  by: string,
  now: number,
  claim?: number,
): { event: LeaseEvent | null; message: Message } | { refused: string } {
  const id = m.message_id.slice(0, 8);
  const mine = m.claimed_by === by && (claim === undefined || claim === m.claim_count);
  if (m.status === 'read') {
    if (kind === 'ack' && mine && m.claim_count > 0) return { event: null, message: { ...m } };
    return { refused: `message ${id} is already read${m.read_at ? ` (at ${m.read_at})` : ''}: there is nothing to ${kind}` };
  }
  if (m.status !== 'delivered') return { refused: `message ${id} is ${m.status}: there is nothing to ${kind}` };
  if (m.claim_count === 0 || m.claimed_by === null) {
    return { refused: `message ${id} is not claimed with a lease: there is nothing to ${kind}` };
  }
  if (m.claimed_by !== by) {
    return { refused: `message ${id} is held by ${m.claimed_by} (claim ${m.claim_count}), not by ${by}` };
  }
  if (claim !== undefined && claim !== m.claim_count) {
    return { refused: `your claim ${claim} of message ${id} lapsed and it was claimed again (claim ${m.claim_count})` };
  }
  if (m.lease_expires_at === null) return { refused: `message ${id} was given back (nack): it is not held by ${by}` };
  if (!mine) return { refused: `message ${id} is not held by ${by}` };
  const event: LeaseEvent = { t: kind, id: m.message_id, at: iso(now), by, n: m.claim_count };
  const message = { ...m };
  applyLeaseEvent(message, event);
  return { event, message };
}

// ------------------------------------------------------------------ outbox

export interface OutboxState {
  /** Every message the outbox still knows, by id, with its current status. */
  byId: Map<string, Message>;
  /** Records read (to decide when to compact). */
  records: number;
}

export function foldOutbox(records: readonly OutboxRecord[]): OutboxState {
  const byId = new Map<string, Message>();
  for (const r of records) {
    if (r.t === 'msg') {
      if (r.m && typeof r.m.message_id === 'string' && !byId.has(r.m.message_id)) byId.set(r.m.message_id, { ...NO_LEASE, ...r.m });
      continue;
    }
    const m = byId.get(r.id);
    if (!m) continue;
    switch (r.t) {
      case 'retry':
        if (m.status === 'pending') {
          m.retry_count = r.retry_count;
          m.next_attempt_at = r.next_attempt_at;
          m.last_error = r.reason;
        }
        break;
      case 'delivered':
        m.status = 'delivered';
        m.delivered_at = r.at;
        m.next_attempt_at = null;
        break;
      case 'failed':
        m.status = 'failed';
        m.last_error = r.reason;
        if (typeof r.retry_count === 'number') m.retry_count = r.retry_count;
        m.next_attempt_at = null;
        break;
      case 'expired':
        m.status = 'expired';
        m.next_attempt_at = null;
        break;
    }
  }
  return { byId, records: records.length };
}

/** Delay before retry number `n + 1` (n = retries so far): base·2ⁿ capped, half of it jittered. */
export function backoffMs(n: number, cfg: Config['messaging'], random: () => number): number {
  const d = Math.min(cfg.backoff_cap_ms, cfg.backoff_base_ms * 2 ** n);
  return Math.round(d / 2 + (random() * d) / 2);
}

/** When the outbox next needs attention: the earliest retry or expiry among pending messages. */
export function nextDueAt(pending: Iterable<Message>): number | null {
  let due: number | null = null;
  for (const m of pending) {
    if (m.status !== 'pending') continue;
    const t = Math.min(Date.parse(m.expires_at), m.next_attempt_at ? Date.parse(m.next_attempt_at) : Infinity);
    if (due === null || t < due) due = t;
  }
  return due;
}

export type Attempt = { kind: 'deliver' } | { kind: 'expire' } | { kind: 'retry'; reason: string; retry_count: number; next_attempt_at: string } | { kind: 'fail'; reason: string; retry_count: number };

/**
 * The outcome of a delivery attempt for a pending message. `blocked` is why the inbox
 * cannot take it (no inbox, inbox full) or undefined when it can. `first` = the attempt at send.
 */
export function decideAttempt(
  m: Message,
  now: number,
  blocked: string | undefined,
  first: boolean,
  cfg: Config['messaging'],
  random: () => number,
): Attempt {
  if (now >= Date.parse(m.expires_at)) return { kind: 'expire' };
  if (!blocked) return { kind: 'deliver' };
  // retry_count = retries already made; the first attempt (at send) is not a retry.
  const made = first ? 0 : m.retry_count + 1;
  if (made >= m.max_retries) return { kind: 'fail', reason: blocked, retry_count: made };
  return { kind: 'retry', reason: blocked, retry_count: made, next_attempt_at: iso(now + backoffMs(made, cfg, random)) };
}

/**
 * Apply an attempt to a pending message: the message after it, its bot-messaging line, and which
 * count of `deia deliver` it adds to. The same on every backend; each stores the result its own way.
 */
export function applyAttempt(m: Message, a: Attempt, now: number): { message: Message; line: AuditRecord; outcome: keyof DeliverResult } {
  const at = iso(now);
  switch (a.kind) {
    case 'expire': {
      const message: Message = { ...m, status: 'expired' };
      return { message, line: audit('message_expired', now, message, 'expired', { ttl_seconds: m.ttl_seconds, retry_count: m.retry_count }), outcome: 'expired' };
    }
    case 'deliver': {
      const message: Message = { ...m, status: 'delivered', delivered_at: at, next_attempt_at: null };
      return { message, line: audit('message_delivered', now, message, 'delivered', { retry_count: m.retry_count }), outcome: 'delivered' };
    }
    case 'retry': {
      const message: Message = { ...m, retry_count: a.retry_count, next_attempt_at: a.next_attempt_at, last_error: a.reason };
      const details = { reason: a.reason, retry_count: a.retry_count, next_attempt_at: a.next_attempt_at };
      return { message, line: audit('message_retry', now, message, 'pending', details), outcome: 'retried' };
    }
    case 'fail': {
      const message: Message = { ...m, status: 'failed', retry_count: a.retry_count, last_error: a.reason, next_attempt_at: null };
      return { message, line: audit('message_failed', now, message, 'failed', { reason: a.reason, retry_count: a.retry_count }), outcome: 'failed' };
    }
  }
}

/** A pending message an attempt is due for now: its next attempt time or its expiry came, or its recipient is forced (just got an inbox). */
export function isDue(m: Message, now: number, force: ReadonlySet<string> = new Set()): boolean {
  return m.status === 'pending' && (force.has(m.to_bot) || Date.parse(m.expires_at) <= now || (m.next_attempt_at !== null && Date.parse(m.next_attempt_at) <= now));
}

// ------------------------------------------------------------------ audit

export function audit(
  event: AuditEventName,
  now: number,
  m: Pick<Message, 'message_id' | 'from_bot' | 'to_bot' | 'priority'> | null,
  status: MessageStatus | null,
  details: Record<string, unknown> | null = null,
): AuditRecord {
  return {
    timestamp: isoOf(now),
    event,
    message_id: m?.message_id ?? null,
    from_bot: m?.from_bot ?? null,
    to_bot: m?.to_bot ?? null,
    priority: m?.priority ?? null,
    status,
    details,
  };
}

// ------------------------------------------------------------------ ids and names

/** Resolve id prefixes (as git does with hashes) against known ids. Throws on unknown or ambiguous. */
export function resolvePrefixes(prefixes: readonly string[], ids: readonly string[]): string[] {
  return prefixes.map((p) => {
    if (typeof p !== 'string' || p.length === 0) throw new UsageError('empty message id');
    const exact = ids.find((id) => id === p);
    if (exact) return exact;
    const hits = ids.filter((id) => id.startsWith(p));
    if (hits.length === 0) throw new UsageError(`no message with id ${JSON.stringify(p)}`, 'see `deia inbox --all` for ids');
    if (hits.length > 1) {
      throw new UsageError(`ambiguous id prefix ${JSON.stringify(p)} (matches ${hits.length} messages)`, 'give more characters of the id');
    }
    return hits[0]!;
  });
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest known bot id, when it is close enough to be a likely typo. */
export function suggestBot(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

// ------------------------------------------------------------------ conversation, status

/**
 * Messages between `a` and `b`, both directions, oldest first: what the outbox still holds
 * undelivered (pending, failed, expired) and what their inboxes hold (an inbox copy wins).
 */
export function conversationOf(a: string, b: string, outbox: readonly Message[], inboxes: readonly Message[]): Message[] {
  const between = (m: Message) => (m.from_bot === a && m.to_bot === b) || (m.from_bot === b && m.to_bot === a);
  const byId = new Map<string, Message>();
  for (const m of outbox) if (between(m) && m.status !== 'delivered') byId.set(m.message_id, m);
  for (const m of inboxes) if (between(m)) byId.set(m.message_id, m);
  return [...byId.values()].sort((x, y) => (x.created_at < y.created_at ? -1 : x.created_at > y.created_at ? 1 : 0));
}

export interface BotStatus {
  bot_id: string;
  /** False for a recipient of pending mail that has no inbox yet. */
  has_inbox: boolean;
  inbox_size: number;
  unread: number;
  unread_by_priority: Record<Priority, number>;
  oldest_unread_at: string | null;
  oldest_unread_age_ms: number | null;
  pending_to: number;
}

export interface MessagingStatus {
  generated_at: string;
  total: number;
  by_status: Record<MessageStatus, number>;
  by_priority: Record<Priority, number>;
  pending: Array<Pick<Message, 'message_id' | 'from_bot' | 'to_bot' | 'priority' | 'retry_count' | 'max_retries' | 'next_attempt_at' | 'expires_at' | 'last_error' | 'created_at'>>;
  failed: Array<Pick<Message, 'message_id' | 'from_bot' | 'to_bot' | 'priority' | 'status' | 'last_error' | 'created_at'>>;
  bots: BotStatus[];
}

const zeroBy = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/**
 * `deia status` from what a backend holds: messages not in an inbox (pending, failed, expired;
 * delivered ones are counted from the inboxes) and each known bot's inbox.
 */
export function summarizeMessaging(
  now: number,
  outbox: readonly Message[],
  inboxes: ReadonlyArray<{ bot_id: string; has_inbox: boolean; messages: readonly Message[] }>,
): MessagingStatus {
  const by_status = zeroBy(STATUSES);
  const by_priority = zeroBy(PRIORITIES);
  const count = (m: Message) => {
    by_status[m.status]++;
    by_priority[m.priority]++;
  };
  const pendingTo = new Map<string, number>();
  const pending: MessagingStatus['pending'] = [];
  const failed: MessagingStatus['failed'] = [];
  for (const m of outbox) {
    if (m.status === 'delivered') continue;
    count(m);
    if (m.status === 'pending') {
      pendingTo.set(m.to_bot, (pendingTo.get(m.to_bot) ?? 0) + 1);
      const { message_id, from_bot, to_bot, priority, retry_count, max_retries, next_attempt_at, expires_at, last_error, created_at } = m;
      pending.push({ message_id, from_bot, to_bot, priority, retry_count, max_retries, next_attempt_at, expires_at, last_error, created_at });
    } else {
      const { message_id, from_bot, to_bot, priority, status, last_error, created_at } = m;
      failed.push({ message_id, from_bot, to_bot, priority, status, last_error, created_at });
    }
  }
  pending.sort((x, y) => ((x.next_attempt_at ?? '') < (y.next_attempt_at ?? '') ? -1 : 1));
  const bots = [...inboxes].sort((x, y) => (x.bot_id < y.bot_id ? -1 : x.bot_id > y.bot_id ? 1 : 0)).map((ib) => botStatus(now, ib, pendingTo.get(ib.bot_id) ?? 0, count));
  const total = Object.values(by_status).reduce((s, n) => s + n, 0);
  return { generated_at: iso(now), total, by_status, by_priority, pending, failed, bots };
}

function botStatus(now: number, ib: { bot_id: string; has_inbox: boolean; messages: readonly Message[] }, pendingTo: number, count: (m: Message) => void): BotStatus {
  const unreadBy = zeroBy(PRIORITIES);
  let oldest: string | null = null;
  let unread = 0;
  for (const m of ib.messages) {
    count(m);
    if (m.status === 'delivered') {
      unread++;
      unreadBy[m.priority]++;
      if (oldest === null || m.created_at < oldest) oldest = m.created_at;
    }
  }
  return {
    bot_id: ib.bot_id,
    has_inbox: ib.has_inbox,
    inbox_size: ib.messages.length,
    unread,
    unread_by_priority: unreadBy,
    oldest_unread_at: oldest,
    oldest_unread_age_ms: oldest === null ? null : Math.max(0, now - Date.parse(oldest)),
    pending_to: pendingTo,
  };
}
