/**
 * Messaging on the storage interface: what `send`, `inbox` (list, --next, --wait, --mark-read)
 * and `read` do when the hive lives in PostgreSQL. Same rules (validateSend, newMessage, audit
 * lines of bot-messaging), records instead of files:
 *   queue inbox.<bot>      delivered messages: ready = unread, done = read (claimed)
 *   document outbox        mail for bots without an inbox, with retry state (TTL, retry_count)
 *   queue dead.<bot>       mail that failed (retries exhausted) or expired
 *   queue pending.<bot>    where earlier versions kept waiting mail: still moved when the bot gets an inbox
 *   document bot.<bot>     the bot has an inbox;  log bots: registrations (bots.jsonl's lines)
 *   log bot-messaging      the audit log, line for line as the file backend writes it
 *   document key.<bot>.<hash>  what a `send --key` stored (a repeat returns it, storing nothing)
 * `deia cleanup` forgets old read mail, old dead mail and old keys (retentionOn).
 */
import { createHash } from 'node:crypto';
import { iso } from '../common/clock.js';
import { dict } from '../common/dict.js';
import { DeiaError, UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import { openOptions, requireIdentity, storeUrl, type HiveContext } from '../hive.js';
import type { EnqueueInput, QueueItem, StorageBackend } from '../store/types.js';
import { ALL, applyAttempt, audit, conversationOf, isDue, decideAttempt, decideSettle, summarizeMessaging, type MessagingStatus, newMessage, parseLease, resolvePrefixes, validateSend, type Settle } from './rules.js';
import type { AckOptions, AuditRecord, DeliverResult, InboxOptions, Message, Priority, SendInput } from './types.js';

const INBOX = (bot: string) => `inbox.${bot}`;
const PENDING = (bot: string) => `pending.${bot}`;
/** Mail that will never be delivered (failed: retries exhausted; expired: TTL passed), kept for status and conversation. */
const DEAD = (bot: string) => `dead.${bot}`;
const BOT_DOC = (bot: string) => `bot.${bot}`;
const AUDIT_LOG = 'bot-messaging';
/** The document of mail waiting for a recipient's inbox (with its retry state): small, as mail waits there only until retries run out. */
const OUTBOX_DOC = 'outbox';
interface OutboxDoc {
  messages: Message[];
}
const BOTS_LOG = 'bots';
const RANK: Record<Priority, number> = { P0: 0, P1: 1, P2: 2, P3: 3 };
const MESSAGE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A pending message being moved into an inbox is leased for this long: a crash mid-move lets another process finish it. */
const MOVE_LEASE_MS = 30_000;

/** Open the chosen store for one command and close it after, whatever happens. */
export async function onStore<R>(ctx: HiveContext, fn: (b: StorageBackend) => Promise<R>): Promise<R> {
  const { openBackend } = await import('../store/open.js');
  // A folder deia 0.1 made is opened only by `deia export`: its audit logs are files the file backend reads as they are.
  const b = await openBackend(ctx.storeChoice.kind === 'file' ? ctx.dir : storeUrl(ctx), openOptions(ctx));
  try {
    const r = await fn(b);
    // Every command a bot runs says it is alive, as in a folder (program.ts), here on the
    // connection already open: one read, a write at most every PRESENCE_THROTTLE_MS.
    if (ctx.identity) await (await import('../presence/presence.js')).touchPresenceOnQuietly(b, ctx);
    return r;
  } finally {
    await b.close();
  }
}

function asItem(m: Message, now: number): EnqueueInput<Message> {
  return { id: m.message_id, priority: RANK[m.priority], payload: m, createdAt: Date.parse(m.created_at) || now };
}

/** A message as the folder shows it; claim_count and claimed_by follow the queue's claims (on PostgreSQL every claim counts, leased or final). */
function toMessage(it: QueueItem<Message>): Message {
  const read = it.state === 'done';
  return {
    ...it.payload,
    status: read ? 'read' : 'delivered',
    read_at: read && it.claimedAt !== undefined ? iso(it.claimedAt) : null,
    claim_count: it.claimCount,
    claimed_by: it.claimedBy ?? null,
    lease_expires_at: it.state === 'leased' && it.leaseUntil !== undefined ? iso(it.leaseUntil) : null,
  };
}

/** Create a bot's inbox if needed (registered once however many processes look at once), then hand it the mail waiting for it. */
export async function ensureInboxOn(b: StorageBackend, ctx: HiveContext, bot: string): Promise<{ bot_id: string; created: boolean }> {
  validateBotId(bot);
  let created = false;
  if (!(await b.docs.get(BOT_DOC(bot)))) {
    created = await b.transaction({ docs: [BOT_DOC(bot)], logs: [BOTS_LOG] }, async (tx) => {
      if (await tx.get(BOT_DOC(bot))) return false;
      const timestamp = iso(ctx.clock());
      tx.put(BOT_DOC(bot), { bot_id: bot, timestamp });
      tx.append(BOTS_LOG, [{ event: 'registered', bot_id: bot, timestamp }]);
      return true;
    });
  }
  await deliverPendingOn(b, ctx, bot);
  await deliverDueOn(b, ctx, { bots: [bot] });
  return { bot_id: bot, created };
}

/**
 * Move mail waiting for `bot` into its inbox: each message is leased from the pending queue
 * (so two processes never move the same one), enqueued in the inbox with its audit line in one
 * transaction (idempotent by id), then acknowledged.
 */
async function deliverPendingOn(b: StorageBackend, ctx: HiveContext, bot: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const it = await b.queues.claimNext<Message>(PENDING(bot), { leaseMs: MOVE_LEASE_MS, by: 'deliver' });
    if (!it) return moved;
    const now = ctx.clock();
    const m: Message = { ...it.payload, status: 'delivered', delivered_at: iso(now), last_error: null, next_attempt_at: null };
    await b.transaction({ queues: [INBOX(bot)], logs: [AUDIT_LOG] }, (tx) => {
      tx.enqueue(INBOX(bot), [asItem(m, now)]);
      tx.append(AUDIT_LOG, [audit('message_delivered', now, m, 'delivered', { retry_count: m.retry_count })]);
    });
    await b.queues.ack(PENDING(bot), it.id);
    moved++;
  }
}

/** The document of one idempotency key of one sender (a hash: keys are free text, document names are not). */
const KEY_DOC = (from: string, key: string) => `key.${from}.${createHash('sha256').update(key).digest('hex').slice(0, 48)}`;
interface KeyDoc {
  key: string;
  at: string;
  messages: Message[];
}

/**
 * `deia send` on the interface, the folder's rules (validateSend, newMessage, decideAttempt):
 * every message of the batch, its key documents and audit lines commit in one transaction, so a
 * batch is stored whole or not at all. `@all` goes to every registered bot but the sender; a
 * repeated `--key` of the same sender returns the first send's messages and stores nothing; a
 * full inbox (`max_inbox_unread`) keeps the mail pending and retried, as in a folder.
 */
export async function sendOn(b: StorageBackend, ctx: HiveContext, inputs: readonly SendInput[], label: (i: number) => string = () => ''): Promise<Message[]> {
  const cfg = ctx.config.messaging;
  const valid = inputs.map((input, i) => validateSend(input, cfg, ctx.identity, label(i)));
  if (valid.length === 0) return [];
  for (const from of new Set(valid.map((v) => v.from))) await ensureInboxOn(b, ctx, from);
  await deliverDueOn(b, ctx);
  const known = valid.some((v) => v.to === ALL) ? [...(await registeredBots(b))].sort() : [];
  const plans = valid.map((v) => ({ v, targets: v.to === ALL ? known.filter((x) => x !== v.from) : [v.to], key: v.key === null ? undefined : KEY_DOC(v.from, v.key) }));
  const recipients = [...new Set(plans.flatMap((p) => p.targets))];
  const keys = [...new Set(plans.flatMap((p) => (p.key ? [p.key] : [])))];
  const scope = { docs: [OUTBOX_DOC, ...recipients.map(BOT_DOC), ...keys], queues: [...recipients.map(INBOX), ...recipients.map(DEAD)], logs: [AUDIT_LOG] };
  return b.transaction(scope, async (tx) => {
    const now = ctx.clock();
    const nowIso = iso(now);
    const hasInbox = new Map<string, boolean>();
    for (const r of recipients) hasInbox.set(r, (await tx.get(BOT_DOC(r))) !== undefined);
    // As in a folder: an inbox whose file cannot be written refuses the whole send, naming the file, before anything is stored.
    (b as StorageBackend & { checkQueuesWritable?: (queues: readonly string[]) => void }).checkQueuesWritable?.(recipients.filter((r) => hasInbox.get(r)).map(INBOX));
    const isFull = inboxFullCheck(b, cfg.max_inbox_unread);
    const seen = new Map<string, Message[]>();
    for (const k of keys) {
      const d = await tx.get<KeyDoc>(k);
      if (d) seen.set(k, d.value.messages);
    }
    const out: Message[] = [];
    const lines: AuditRecord[] = [];
    const waiting: Message[] = [];
    for (const { v, targets, key } of plans) {
      const before = key ? seen.get(key) : undefined;
      if (before) {
        out.push(...before);
        continue;
      }
      const mine: Message[] = [];
      for (const to of targets) {
        const m = newMessage(v, to, newMessageId(ctx), now, cfg, nowIso);
        lines.push(audit('message_queued', now, m, 'pending', null));
        const blocked = !hasInbox.get(to) ? 'recipient has no inbox' : (await isFull(to)) ? 'recipient inbox is full' : undefined;
        const a = decideAttempt(m, now, blocked, true, cfg, ctx.random);
        if (a.kind === 'deliver') {
          const st: Message = { ...m, status: 'delivered', delivered_at: nowIso };
          tx.enqueue(INBOX(to), [asItem(st, now)]);
          isFull.added(to);
          lines.push(audit('message_delivered', now, st, 'delivered', null));
          mine.push(st);
          continue;
        }
        const r = applyAttempt(m, a, now);
        lines.push(r.line);
        if (r.outcome === 'retried') waiting.push(r.message);
        else tx.enqueue(DEAD(to), [asItem(r.message, now)]);
        mine.push(r.message);
      }
      if (key) {
        seen.set(key, mine);
        tx.put<KeyDoc>(key, { key: v.key!, at: nowIso, messages: mine });
      }
      out.push(...mine);
    }
    if (waiting.length) tx.put<OutboxDoc>(OUTBOX_DOC, { messages: [...((await tx.get<OutboxDoc>(OUTBOX_DOC))?.value.messages ?? []), ...waiting] });
    tx.append(AUDIT_LOG, lines);
    return out;
  });
}

function newMessageId(ctx: HiveContext): string {
  const id = ctx.ids();
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) throw new DeiaError(`the id source produced an invalid message id`, 'ids must be 1-128 letters, digits, ".", "_", ":" or "-"');
  return id;
}

/**
 * Back-pressure: whether a bot's inbox holds `max` unread messages, counting those this
 * transaction adds. Counted once per bot (the transaction holds the inbox, so no other sender
 * adds meanwhile; a claim only lowers the count), and never more than `max` rows are read.
 */
function inboxFullCheck(b: StorageBackend, max: number) {
  const unread = new Map<string, number>();
  const check = async (bot: string): Promise<boolean> => {
    if (!unread.has(bot)) unread.set(bot, (await b.queues.list(INBOX(bot), { states: ['ready', 'leased'], limit: max })).length);
    return unread.get(bot)! >= max;
  };
  check.added = (bot: string) => void unread.set(bot, (unread.get(bot) ?? 0) + 1);
  return check;
}

export async function inboxOn(b: StorageBackend, ctx: HiveContext, bot: string, opts: InboxOptions = {}): Promise<Message[] | Message | null> {
  validateBotId(bot);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new UsageError(`--limit must be a positive whole number (got ${opts.limit})`);
  if (opts.wait !== undefined && (!Number.isFinite(opts.wait) || opts.wait < 0)) throw new UsageError(`--wait must be a number of seconds >= 0 (got ${opts.wait})`);
  if (opts.lease !== undefined && !opts.next) throw new UsageError('--lease applies to a claim', 'use it with --next: deia inbox --next --lease 10m');
  const lease = opts.lease === undefined ? undefined : parseLease(opts.lease);
  await ensureInboxOn(b, ctx, bot);
  await deliverDueOn(b, ctx);
  const queue = INBOX(bot);
  const priority = opts.priority === undefined ? undefined : RANK[opts.priority];
  const attempt = async (): Promise<Message[] | Message | null> => {
    if (opts.next) {
      const it = await b.queues.claimNext<Message>(queue, { priority, by: ctx.identity ?? bot, leaseMs: lease });
      if (!it) return null;
      const m = toMessage(it);
      const line =
        lease === undefined
          ? audit('message_read', ctx.clock(), m, 'read', { claimed: true })
          : audit('message_claimed', ctx.clock(), m, 'delivered', { claimed_by: m.claimed_by, claim_count: m.claim_count, lease_expires_at: m.lease_expires_at });
      await b.log<AuditRecord>(AUDIT_LOG).append([line]);
      return m;
    }
    let items = await b.queues.list<Message>(queue, opts.all ? { states: ['ready', 'leased', 'done'] } : {});
    if (priority !== undefined) items = items.filter((i) => i.priority === priority);
    if (opts.limit !== undefined) items = items.slice(0, opts.limit);
    const list = items.map(toMessage);
    return opts.markRead ? markListRead(b, ctx, bot, list) : list;
  };
  const empty = (r: Message[] | Message | null) => r === null || (Array.isArray(r) && r.length === 0);
  if (!opts.wait) return attempt();
  // Watch before looking, so a message arriving between the look and the wait still wakes us.
  const w = await b.watch([{ queue }]);
  try {
    const deadline = Date.now() + opts.wait * 1000;
    let r = await attempt();
    while (empty(r) && Date.now() < deadline) {
      // Mail kept pending for this bot (its inbox was full) falls due without any change to
      // wake on: wake then too, and deliver it.
      const due = await nextDueFor(b, bot);
      await w.changed({ timeoutMs: Math.max(1, Math.min(deadline - Date.now(), due - ctx.clock() + 5)) });
      await deliverDueOn(b, ctx);
      r = await attempt();
    }
    return r;
  } finally {
    await w.close();
  }
}

/**
 * `inbox --mark-read`: the delivered messages listed, read (claims by id), each with its audit
 * line; one taken by another process meanwhile is shown as it is now. Where the backend takes
 * many at once (a folder), one claim and one append for the whole list.
 */
async function markListRead(b: StorageBackend, ctx: HiveContext, bot: string, list: Message[]): Promise<Message[]> {
  const queues = b.queues;
  if (!queues.takeMany) return Promise.all(list.map((m) => (m.status === 'delivered' ? takeRead(b, ctx, bot, m) : m)));
  const wanted = list.filter((m) => m.status === 'delivered').map((m) => m.message_id);
  const taken = new Map((await queues.takeMany<Message>(INBOX(bot), wanted, { by: ctx.identity ?? bot })).map((it) => [it.id, toMessage(it)] as const));
  const now = ctx.clock();
  if (taken.size) await b.log<AuditRecord>(AUDIT_LOG).append([...taken.values()].map((m) => audit('message_read', now, m, 'read', null)));
  const out: Message[] = [];
  for (const m of list) {
    if (m.status !== 'delivered') out.push(m);
    else out.push(taken.get(m.message_id) ?? (await current(b, bot, m.message_id)));
  }
  return out;
}

/** A message another process took first: as it is now, or "not found" when it has gone meanwhile (read and compacted). */
async function current(b: StorageBackend, bot: string, id: string): Promise<Message> {
  const it = await b.queues.get<Message>(INBOX(bot), id);
  if (!it) throw new UsageError(`no message with id ${JSON.stringify(id)}`, 'it was read and removed meanwhile; see `deia inbox --all` for ids');
  return toMessage(it);
}

/** Mark one delivered message read (a claim by id); unchanged if another process read it first. */
async function takeRead(b: StorageBackend, ctx: HiveContext, bot: string, m: Message): Promise<Message> {
  const it = await b.queues.take<Message>(INBOX(bot), m.message_id, { by: ctx.identity ?? bot });
  if (!it) return current(b, bot, m.message_id);
  const read = toMessage(it);
  await b.log<AuditRecord>(AUDIT_LOG).append([audit('message_read', ctx.clock(), read, 'read', null)]);
  return read;
}

/** `deia read`: by id or unique prefix, in `bot`'s inbox. */
export async function markReadOn(b: StorageBackend, ctx: HiveContext, prefixes: readonly string[], bot: string | undefined): Promise<Message[]> {
  if (prefixes.length === 0) throw new UsageError('no message id given', 'e.g. deia read 3f2a9c1b');
  if (!bot) throw new UsageError('on a PostgreSQL store, read needs to know whose inbox', 'pass --as BOT or set DEIA_BOT');
  validateBotId(bot);
  const all = await b.queues.list<Message>(INBOX(bot), { states: ['ready', 'leased', 'done'] });
  const byId = new Map(all.map((i) => [i.id, i] as const));
  const ids = resolvePrefixes(prefixes, [...byId.keys()]);
  const out: Message[] = [];
  for (const id of [...new Set(ids)]) {
    const m = toMessage(byId.get(id)!);
    out.push(m.status === 'delivered' ? await takeRead(b, ctx, bot, m) : m);
  }
  return out;
}

/**
 * `deia ack` / `nack` on the interface: the folder's rule (decideSettle: only the holder of the
 * latest claim, by identity and claim number) decides; the backend then settles that very claim
 * only (a claim made since moves claim_count on and the settle is refused). All ids are checked
 * before any is settled.
 */
export async function settleOn(b: StorageBackend, ctx: HiveContext, kind: Settle, prefixes: readonly string[], opts: AckOptions = {}): Promise<Message[]> {
  // The folder's own words (settleMessages: requireIdentity), so an error reads the same on every store.
  const by = requireIdentity(ctx, kind);
  if (prefixes.length === 0) throw new UsageError('no message id given', `e.g. deia ${kind} 3f2a9c1b --as ${by}`);
  if (opts.claim !== undefined && (!Number.isInteger(opts.claim) || opts.claim < 1)) {
    throw new UsageError(`--claim must be a positive whole number (got ${opts.claim})`, 'give the claim_count the claim returned');
  }
  const found = await findInInboxes(b, prefixes, opts.inbox !== undefined ? [validateBotId(opts.inbox, 'inbox')] : undefined, by);
  const now = ctx.clock();
  const ids = [...new Set(resolvePrefixes(prefixes, [...found.keys()]))];
  const plans = ids.map((id) => {
    const { bot, item } = found.get(id)!;
    const d = decideSettle(toMessage(item), kind, by, now, opts.claim);
    if ('refused' in d) throw new DeiaError(d.refused, `\`deia inbox ${bot} --all --json\` shows claimed_by and claim_count`, 1, 'ENOTHELD');
    return { bot, d };
  });
  const out: Message[] = [];
  for (const { bot, d } of plans) {
    if (d.event) {
      const only = { claim: d.message.claim_count, by };
      const ok = kind === 'ack' ? await b.queues.ack(INBOX(bot), d.message.message_id, only) : await b.queues.nack(INBOX(bot), d.message.message_id, only);
      if (!ok) {
        const done = out.length ? ` (${out.map((m) => m.message_id.slice(0, 8)).join(', ')} ${kind === 'ack' ? 'acked' : 'released'})` : ' (nothing was stored)';
        throw new DeiaError(`message ${d.message.message_id.slice(0, 8)} was claimed again meanwhile: it is not held by ${by}${done}`, `\`deia inbox ${bot} --all --json\` shows claimed_by and claim_count`, 1, 'ENOTHELD');
      }
      const details = { claimed_by: by, claim_count: d.message.claim_count };
      await b.log<AuditRecord>(AUDIT_LOG).append([
        kind === 'ack' ? audit('message_acked', now, d.message, 'read', details) : audit('message_released', now, d.message, 'delivered', details),
      ]);
    }
    out.push(d.message);
  }
  return out;
}

/** Messages of the given inboxes (else the acting bot's, then every inbox when a prefix is not found there), by id. */
async function findInInboxes(b: StorageBackend, prefixes: readonly string[], bots: string[] | undefined, own: string): Promise<Map<string, { bot: string; item: QueueItem<Message> }>> {
  const found = new Map<string, { bot: string; item: QueueItem<Message> }>();
  const look = async (list: readonly string[]) => {
    for (const bot of list) {
      for (const item of await b.queues.list<Message>(INBOX(bot), { states: ['ready', 'leased', 'done'] })) if (!found.has(item.id)) found.set(item.id, { bot, item });
    }
  };
  if (bots) await look(bots);
  else {
    await look([own]);
    if (!prefixes.every((p) => [...found.keys()].some((id) => id.startsWith(p)))) {
      const others = (await b.queues.names()).filter((q) => q.startsWith('inbox.')).map((q) => q.slice('inbox.'.length));
      await look(others.filter((x) => x !== own));
    }
  }
  return found;
}

/** Every message of one kind of queue (`inbox`, `pending`, `dead`), by recipient. */
async function messagesOf(b: StorageBackend, kind: 'inbox' | 'pending' | 'dead', bots?: readonly string[]): Promise<Map<string, Message[]>> {
  const names = bots ?? (await b.queues.names()).filter((q) => q.startsWith(`${kind}.`)).map((q) => q.slice(kind.length + 1));
  const out = new Map<string, Message[]>();
  for (const bot of names) {
    const items = await b.queues.list<Message>(`${kind}.${bot}`, { states: kind === 'pending' ? ['ready', 'leased'] : ['ready', 'leased', 'done'] });
    // Pending and dead mail is shown as stored (its own status); inbox mail as delivered / read.
    out.set(bot, kind === 'inbox' ? items.map(toMessage) : items.map((i) => i.payload));
  }
  return out;
}

/** Which of these bots have an inbox: one document read each, whatever the number of bots in the hive. */
export async function withInboxOn(b: StorageBackend, bots: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const bot of bots) if ((await b.docs.get(BOT_DOC(bot))) !== undefined) out.add(bot);
  return out;
}

/** Bots with an inbox, sorted (what `knownBots` answers for a folder). */
export async function knownBotsOn(b: StorageBackend): Promise<string[]> {
  return [...(await registeredBots(b))].sort();
}

/** Bots with an inbox: those registered in the log `bots` (also routing's candidates on PostgreSQL). */
export async function registeredBots(b: StorageBackend): Promise<Set<string>> {
  const bots = new Set<string>();
  for await (const r of b.log<{ event?: string; bot_id?: string }>(BOTS_LOG).stream()) if (r.event === 'registered' && typeof r.bot_id === 'string') bots.add(r.bot_id);
  return bots;
}

/** Each registered bot's first registration time (what `deia bots` shows as registered_at). */
export async function registrationsOn(b: StorageBackend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const r of b.log<{ event?: string; bot_id?: string; timestamp?: string }>(BOTS_LOG).stream()) {
    if (r.event === 'registered' && typeof r.bot_id === 'string' && !out.has(r.bot_id)) out.set(r.bot_id, String(r.timestamp ?? ''));
  }
  return out;
}

/** `deia status` on the interface: the folder's summary (summarizeMessaging) over queues instead of files. */
export async function statusOn(b: StorageBackend, ctx: HiveContext): Promise<MessagingStatus> {
  const registered = await registeredBots(b);
  const inboxes = await messagesOf(b, 'inbox', [...registered]);
  const outbox = [...(await outboxMessages(b)), ...[...(await messagesOf(b, 'pending')).values(), ...(await messagesOf(b, 'dead')).values()].flat()];
  const names = new Set([...registered, ...outbox.filter((m) => m.status === 'pending').map((m) => m.to_bot)]);
  const bots = [...names].map((bot) => ({ bot_id: bot, has_inbox: registered.has(bot), messages: inboxes.get(bot) ?? [] }));
  return summarizeMessaging(ctx.clock(), outbox, bots);
}

/** `deia conversation` on the interface (conversationOf: the folder's rule). */
export async function conversationOn(b: StorageBackend, a: string, c: string): Promise<Message[]> {
  validateBotId(a);
  validateBotId(c);
  const pair = a === c ? [a] : [a, c];
  const inboxes = [...(await messagesOf(b, 'inbox', pair)).values()].flat();
  const outbox = [...(await outboxMessages(b)), ...[...(await messagesOf(b, 'pending', pair)).values(), ...(await messagesOf(b, 'dead', pair)).values()].flat()];
  return conversationOf(a, c, outbox, inboxes);
}

const ZERO: DeliverResult = { delivered: 0, retried: 0, failed: 0, expired: 0 };

/**
 * `deia deliver` on the interface: every pending message due (or addressed to a bot in `bots`,
 * which just got an inbox) is attempted with the folder's rules (decideAttempt, applyAttempt), in
 * one transaction: delivered into the inbox, retried in place, or moved to dead.<bot> (failed,
 * expired), with the audit lines — all stored, or none.
 */
export async function deliverDueOn(b: StorageBackend, ctx: HiveContext, opts: { bots?: readonly string[] } = {}): Promise<DeliverResult> {
  const force = new Set(opts.bots ?? []);
  const first = (await b.docs.get<OutboxDoc>(OUTBOX_DOC))?.value.messages ?? [];
  const recipients = [...new Set(first.filter((m) => isDue(m, ctx.clock(), force)).map((m) => m.to_bot))];
  if (recipients.length === 0) return { ...ZERO };
  const scope = { docs: [OUTBOX_DOC, ...recipients.map(BOT_DOC)], queues: [...recipients.map(INBOX), ...recipients.map(DEAD)], logs: [AUDIT_LOG] };
  return b.transaction(scope, async (tx) => {
    const now = ctx.clock();
    const res = { ...ZERO };
    const has = new Map<string, boolean>();
    for (const r of recipients) has.set(r, (await tx.get(BOT_DOC(r))) !== undefined);
    // As in a folder (ops.ts deliverDue): an inbox whose file cannot be written blocks only its
    // own mail, which is retried and in the end failed, not every command that delivers.
    const broken = new Map<string, string>();
    for (const r of recipients) {
      const why = has.get(r) ? inboxUnwritable(b, r) : undefined;
      if (why) broken.set(r, `recipient inbox cannot be written: ${why}`);
    }
    const isFull = inboxFullCheck(b, ctx.config.messaging.max_inbox_unread);
    const keep: Message[] = [];
    const lines: AuditRecord[] = [];
    const current = (await tx.get<OutboxDoc>(OUTBOX_DOC))?.value.messages ?? [];
    for (const m of [...current].sort((x, y) => (x.created_at < y.created_at ? -1 : x.created_at > y.created_at ? 1 : 0))) {
      // Recipients outside the scope (new since the first look) wait for the next run.
      if (!has.has(m.to_bot) || !isDue(m, now, force)) {
        keep.push(m);
        continue;
      }
      const blocked = !has.get(m.to_bot) ? 'recipient has no inbox' : (broken.get(m.to_bot) ?? ((await isFull(m.to_bot)) ? 'recipient inbox is full' : undefined));
      const r = applyAttempt(m, decideAttempt(m, now, blocked, false, ctx.config.messaging, ctx.random), now);
      res[r.outcome]++;
      lines.push(r.line);
      if (r.outcome === 'delivered') {
        tx.enqueue(INBOX(m.to_bot), [asItem(r.message, now)]);
        isFull.added(m.to_bot);
      } else if (r.outcome === 'retried') keep.push(r.message);
      else tx.enqueue(DEAD(m.to_bot), [asItem(r.message, now)]);
    }
    tx.put<OutboxDoc>(OUTBOX_DOC, { messages: keep });
    tx.append(AUDIT_LOG, lines);
    return res;
  });
}

/** Why `bot`'s inbox cannot be written now: asked of a file backend (its queue file), never so on PostgreSQL. */
function inboxUnwritable(b: StorageBackend, bot: string): string | undefined {
  return (b as StorageBackend & { unwritableQueue?: (queue: string) => string | undefined }).unwritableQueue?.(INBOX(bot));
}

/** When the next pending message to `bot` falls due (a retry or its expiry), ms since the epoch; Infinity when none waits. */
async function nextDueFor(b: StorageBackend, bot: string): Promise<number> {
  let due = Infinity;
  for (const m of await outboxMessages(b)) {
    if (m.to_bot !== bot || m.status !== 'pending') continue;
    due = Math.min(due, Date.parse(m.expires_at), m.next_attempt_at === null ? Infinity : Date.parse(m.next_attempt_at));
  }
  return due;
}

async function outboxMessages(b: StorageBackend): Promise<Message[]> {
  return (await b.docs.get<OutboxDoc>(OUTBOX_DOC))?.value.messages ?? [];
}

// ---------------------------------------------------------------- copying a hive in (deia migrate)

/** Messaging as it stands in another hive, to be copied into this store (`deia migrate`). */
export interface MessagingCopy {
  /** Registrations (bots.jsonl's lines), one per bot with an inbox. */
  bots: ReadonlyArray<{ event: 'registered'; bot_id: string; timestamp: string }>;
  /** Each inbox's messages with their status, read_at, claims and lease. */
  inboxes: ReadonlyMap<string, readonly Message[]>;
  /** Mail not delivered: pending, failed, expired. */
  undelivered: readonly Message[];
  /** The bot-messaging log, oldest line first. */
  audit: readonly AuditRecord[];
  /** What each `send --key` stored, by sender: a repeat of the key after the copy stores nothing. */
  keys: readonly SentKey[];
}

/** One idempotency key of one sender and the messages its first send stored. */
export interface SentKey {
  from: string;
  key: string;
  /** When the key was first used (ISO): what retention ages it by. */
  at: string;
  messages: Message[];
}

export interface MessagingCopyResult {
  bots: number;
  inbox_messages: number;
  pending: number;
  failed_or_expired: number;
  audit_lines: number;
}

/** Whether this store holds no messaging at all (no queue, no bot, no waiting mail, no audit line). */
export async function messagingIsEmptyOn(b: StorageBackend): Promise<boolean> {
  if ((await b.queues.names()).length > 0 || (await b.docs.get(OUTBOX_DOC)) !== undefined) return false;
  if ((await b.docs.keys('key.')).length > 0 || (await b.docs.keys('bot.')).length > 0) return false;
  for (const log of [BOTS_LOG, AUDIT_LOG]) for await (const _ of b.log(log).stream()) return false;
  return true;
}

/** An inbox message as a queue item in the state it is in: read = done (at read_at), leased, or ready; claims kept. */
function inboxItem(m: Message): QueueItem<Message> {
  const payload: Message = { ...m, status: 'delivered', read_at: null, claim_count: 0, claimed_by: null, lease_expires_at: null };
  const base = { id: m.message_id, priority: RANK[m.priority], createdAt: Date.parse(m.created_at), payload, claimCount: m.claim_count ?? 0 };
  const by = m.claimed_by ?? undefined;
  if (m.status === 'read') return { ...base, state: 'done', claimedAt: Date.parse(m.read_at ?? m.created_at), ...(by ? { claimedBy: by } : {}) };
  // When the lease was taken is not kept by a folder: the delivery time stands for it, as read_at once acked.
  if (m.lease_expires_at) return { ...base, state: 'leased', leaseUntil: Date.parse(m.lease_expires_at), claimedAt: Date.parse(m.delivered_at ?? m.created_at), ...(by ? { claimedBy: by } : {}) };
  return { ...base, state: 'ready', ...(by ? { claimedBy: by } : {}) };
}

/**
 * Store another hive's messaging here, laid out as this file's operations keep it: registrations
 * (log bots, docs bot.<bot>), inboxes (queues inbox.<bot>, restored in their state), pending
 * mail (document outbox), failed and expired mail (queues dead.<bot>), the audit log. The
 * caller checked that the store was empty (`messagingIsEmptyOn`).
 */
export async function copyMessagingOn(b: StorageBackend, copy: MessagingCopy): Promise<MessagingCopyResult> {
  const bots = b.log(BOTS_LOG);
  for (let i = 0; i < copy.bots.length; i += BATCH) await bots.append(copy.bots.slice(i, i + BATCH));
  for (const r of copy.bots) await b.docs.put(BOT_DOC(r.bot_id), { bot_id: r.bot_id, timestamp: r.timestamp }, { ifVersion: 0 });
  let inbox = 0;
  for (const [bot, messages] of copy.inboxes) {
    const items = messages.map(inboxItem);
    for (let i = 0; i < items.length; i += BATCH) inbox += (await b.queues.restore(INBOX(bot), items.slice(i, i + BATCH))).added.length;
  }
  const pending = copy.undelivered.filter((m) => m.status === 'pending');
  const dead = copy.undelivered.filter((m) => m.status !== 'pending');
  for (const m of dead) await b.queues.enqueue(DEAD(m.to_bot), [asItem(m, Date.parse(m.created_at))]);
  if (pending.length) await b.docs.put<OutboxDoc>(OUTBOX_DOC, { messages: [...pending] }, { ifVersion: 0 });
  const audit = b.log<AuditRecord>(AUDIT_LOG);
  for (let i = 0; i < copy.audit.length; i += BATCH) await audit.append(copy.audit.slice(i, i + BATCH));
  for (const k of copy.keys) {
    validateBotId(k.from, 'sender of a --key');
    // The first record of a key wins, as a folder's send reads it.
    const name = KEY_DOC(k.from, k.key);
    if (!(await b.docs.get(name))) await b.docs.put<KeyDoc>(name, { key: k.key, at: k.at, messages: k.messages }, { ifVersion: 0 });
  }
  return { bots: copy.bots.length, inbox_messages: inbox, pending: pending.length, failed_or_expired: dead.length, audit_lines: copy.audit.length };
}

const BATCH = 1000;

/** The sender in a key document's name (`key.<from>.<hash>`; a bot id may hold dots, the hash does not). */
const KEY_NAME = /^key\.(.+)\.[0-9a-f]{48}$/;

/**
 * This store's messaging, as `copyMessagingOn` takes it (`deia migrate --from postgres://…`):
 * registrations, every inbox in its state (as `inbox --all` shows it), mail not delivered
 * (waiting, failed, expired), the bot-messaging log (what retention archived first) and the
 * `send --key` documents. Read record by record, not at one instant: migrate from a store no
 * bot is using.
 */
export async function messagingFromStore(b: StorageBackend): Promise<MessagingCopy> {
  const bots: Array<{ event: 'registered'; bot_id: string; timestamp: string }> = [];
  const seen = new Set<string>();
  for await (const r of b.log<{ event?: string; bot_id?: string; timestamp?: string }>(BOTS_LOG).stream()) {
    if (r.event !== 'registered' || typeof r.bot_id !== 'string' || seen.has(r.bot_id)) continue;
    seen.add(r.bot_id);
    bots.push({ event: 'registered', bot_id: r.bot_id, timestamp: typeof r.timestamp === 'string' ? r.timestamp : new Date(0).toISOString() });
  }
  const inboxes = await messagesOf(b, 'inbox', [...seen]);
  const undelivered = [...(await outboxMessages(b)), ...[...(await messagesOf(b, 'pending')).values()].flat(), ...[...(await messagesOf(b, 'dead')).values()].flat()];
  const audit: AuditRecord[] = [];
  for await (const r of b.log<AuditRecord>(AUDIT_LOG).streamArchive()) audit.push(r);
  for await (const r of b.log<AuditRecord>(AUDIT_LOG).stream()) audit.push(r);
  const keys: SentKey[] = [];
  for (const name of (await b.docs.keys('key.')).sort()) {
    const from = KEY_NAME.exec(name)?.[1];
    const d = (await b.docs.get<KeyDoc>(name))?.value;
    if (!from || !d || typeof d.key !== 'string' || !Array.isArray(d.messages)) continue;
    keys.push({ from, key: d.key, at: typeof d.at === 'string' ? d.at : (d.messages[0]?.created_at ?? new Date(0).toISOString()), messages: d.messages });
  }
  return { bots, inboxes, undelivered, audit, keys };
}

/** Unread P0 + P1 messages per bot (a load signal routing shows), as urgentUnreadCounts counts them in a folder: claimed with a lease but not acked still counts. */
export async function urgentUnreadOn(b: StorageBackend, bots: readonly string[]): Promise<Record<string, number>> {
  const out = dict<number>();
  for (const bot of bots) {
    const items = await b.queues.list<Message>(INBOX(bot), { states: ['ready', 'leased'] });
    out[bot] = items.filter((i) => i.priority <= RANK.P1).length;
  }
  return out;
}

// ---------------------------------------------------------------- retention (deia cleanup)

export interface RetentionResult {
  compaction: { mailboxes: number; dropped: number; kept: number };
  key_retention: { files: number; dropped: number; kept: number };
}

/**
 * What `deia cleanup` forgets on PostgreSQL, by the folder's rules: read mail read before
 * `read_retention_hours`, failed or expired mail (dead.<bot>) whose expiry is that old, and
 * `send --key` documents older than `key_retention_hours` (a repeat of such a key sends anew).
 * One atomic step per queue and per key; a dry run only counts.
 */
export async function retentionOn(b: StorageBackend, ctx: HiveContext, dryRun: boolean): Promise<RetentionResult> {
  const now = ctx.clock();
  const readCutoff = now - ctx.config.messaging.read_retention_hours * 3_600_000;
  const compaction = { mailboxes: 0, dropped: 0, kept: 0 };
  for (const q of await b.queues.names()) {
    const dead = q.startsWith('dead.');
    if (!dead && !q.startsWith('inbox.')) continue;
    compaction.mailboxes++;
    // Read mail (and all dead mail) past the cutoff. Read mail is done for good, so a read item
    // seen here cannot change under the removal.
    const counted = (it: QueueItem<string | null>) => dead || it.state === 'done';
    const old = (it: QueueItem<string | null>) => {
      if (!counted(it)) return false;
      const t = dead ? Date.parse(it.payload ?? '') : (it.claimedAt ?? it.createdAt);
      const gone = Number.isFinite(t) && t < readCutoff;
      if (!gone) compaction.kept++;
      return gone;
    };
    if (b.queues.removeWhere) {
      // Only each message's expiry is kept while the queue is read: a big inbox is pruned in little memory.
      compaction.dropped += (await b.queues.removeWhere<Message, string | null>(q, (m) => (dead ? m.expires_at : null), old, { dryRun })).removed;
      continue;
    }
    const items = await b.queues.list<Message>(q, { states: dead ? ['ready', 'leased', 'done'] : ['done'] });
    const picked = items.filter((it) => old({ ...it, payload: dead ? it.payload.expires_at : null }));
    if (picked.length === 0) continue;
    compaction.dropped += dryRun ? picked.length : (await b.queues.remove(q, picked.map((it) => it.id))).removed.length;
  }
  return { compaction, key_retention: await forgetKeysOn(b, now - ctx.config.messaging.key_retention_hours * 3_600_000, dryRun) };
}

async function forgetKeysOn(b: StorageBackend, cutoff: number, dryRun: boolean): Promise<RetentionResult['key_retention']> {
  const res = { files: 0, dropped: 0, kept: 0 };
  // As in a folder, a key without a readable time ages by its first message, else counts as old.
  const isOld = (d: KeyDoc | undefined) => {
    const t = Date.parse(d?.at ?? d?.messages?.[0]?.created_at ?? '');
    return !Number.isFinite(t) || t < cutoff;
  };
  for (const key of await b.docs.keys('key.')) {
    const old = dryRun
      ? isOld((await b.docs.get<KeyDoc>(key))?.value)
      : await b.transaction({ docs: [key] }, async (tx) => {
          // Looked at again under the lock: a send may just have stored this key anew.
          const doc = await tx.get<KeyDoc>(key);
          if (!doc || !isOld(doc.value)) return false;
          tx.delete(key);
          return true;
        });
    if (old) {
      res.files++;
      res.dropped++;
    } else res.kept++;
  }
  return res;
}
