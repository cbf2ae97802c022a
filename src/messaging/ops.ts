/**
 * Messaging operations: the rules of rules.ts applied through the store.
 *
 * Files (all under the hive folder):
 *   mailboxes/<bot>.jsonl  delivered messages ({t:'msg'}) and read events ({t:'read'}), folded on read
 *   outbox.jsonl           messages not yet delivered, and their retry / terminal transitions
 *   state/outbox.json      { next_due_at, pending }: lets every command skip delivery when nothing is due
 *   keys/<sender>.jsonl    idempotency keys of `send --key` and the messages they plan (written first)
 *   state/archiving/<bot>.json  where a mailbox's archive ended before a compaction's appends (until its rename)
 *   bot-messaging.jsonl    audit log, one event a line, appended last in each critical section
 */
import { dict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import { DeiaError, UsageError } from '../common/errors.js';
import { validateBotId } from '../common/ids.js';
import { requireIdentity, type HiveContext } from '../hive.js';
import { BOTS_FILE, hasInbox, knownBots, mailboxFile, type BotRecord } from './registry.js';
import {
  applyAttempt,
  isDue,
  conversationOf,
  summarizeMessaging,
  type MessagingStatus,
  ALL,
  applyLeaseEvent,
  audit,
  decideSettle,
  isClaimable,
  leaseClaim,
  nextLapseAt,
  parseLease,
  decideAttempt,
  foldMailbox,
  foldOutbox,
  newMessage,
  nextDueAt,
  resolvePrefixes,
  selectInbox,
  sortInbox,
  validateSend,
  type MailboxState,
  type Settle,
  type ValidSend,
} from './rules.js';
import type {
  AckOptions,
  AuditRecord,
  CompactResult,
  DeliverResult,
  InboxOptions,
  KeyCompactResult,
  KeyRecord,
  MailboxRecord,
  Message,
  OutboxRecord,
  Priority,
  QueueDepth,
  SendInput,
} from './types.js';
import type { SentKey } from './records.js';
import { appendAllHeld, PartialCommitError, unwritable, writeError, type Batch } from '../store/commit.js';
import { MESSAGING_LOG, OUTBOX_FILE } from '../common/files.js';

export const OUTBOX = OUTBOX_FILE;
export const AUDIT = MESSAGING_LOG;
export const OUTBOX_STATE = 'state/outbox.json';
export const keysFile = (bot: string) => `keys/${validateBotId(bot)}.jsonl`;
export const archiveFile = (bot: string) => `archive/mailboxes/${validateBotId(bot)}.jsonl`;
/** Where the archive of a mailbox ended before a compaction's appends; present only until its rename. */
export const archiveMarkerFile = (bot: string) => `state/archiving/${validateBotId(bot)}.json`;

interface ArchiveMarker {
  offset: number;
  ino?: number;
}

interface OutboxMeta {
  next_due_at: string | null;
  pending: number;
}

/** Fewer bytes than any message line of a mailbox (its keys alone are longer). */
const MIN_MSG_LINE = 256;

const ZERO: DeliverResult = { delivered: 0, retried: 0, failed: 0, expired: 0 };

export function readMailbox(ctx: HiveContext, bot: string): MailboxState {
  return foldMailbox(ctx.store.read<MailboxRecord>(mailboxFile(bot)).records);
}

function readOutbox(ctx: HiveContext) {
  return foldOutbox(ctx.store.read<OutboxRecord>(OUTBOX).records);
}

// ------------------------------------------------------------------ delivery

/** When pending mail is next due (retry or expiry), from the small state file; null when nothing is pending. */
function outboxDueAt(ctx: HiveContext): number | null {
  const meta = ctx.store.readJson<OutboxMeta>(OUTBOX_STATE);
  const t = meta?.next_due_at ? Date.parse(meta.next_due_at) : NaN;
  return Number.isFinite(t) ? t : null;
}

/** Run delivery only when something is due: one small state file read otherwise. */
export async function deliverIfDue(ctx: HiveContext): Promise<DeliverResult> {
  const { store } = ctx;
  const meta = store.readJson<OutboxMeta>(OUTBOX_STATE);
  if (meta) {
    if (!meta.next_due_at || Date.parse(meta.next_due_at) > ctx.clock()) return ZERO;
  } else if (!store.exists(OUTBOX)) return ZERO;
  return deliverDue(ctx);
}

async function writeMeta(ctx: HiveContext, messages: Iterable<Message>): Promise<void> {
  // Walked twice (count, then due time): an iterator (Map.values()) would be empty the second time.
  const list = [...messages];
  let n = 0;
  for (const m of list) if (m.status === 'pending') n++;
  const due = nextDueAt(list);
  const meta: OutboxMeta = { next_due_at: due === null ? null : iso(due), pending: n };
  const prev = ctx.store.readJson<OutboxMeta>(OUTBOX_STATE);
  if (prev && prev.next_due_at === meta.next_due_at && prev.pending === meta.pending) return;
  await ctx.store.writeFileAtomic(OUTBOX_STATE, JSON.stringify(meta) + '\n');
}

/**
 * Process the outgoing queue: deliver what can be, retry with backoff what cannot,
 * fail what ran out of retries, expire what outlived its TTL. `bots`: recipients whose
 * pending mail is attempted now whatever its next attempt time (a new inbox).
 * Idempotent by message id: a message already in the mailbox is not delivered twice.
 */
export async function deliverDue(ctx: HiveContext, opts: { bots?: readonly string[] } = {}): Promise<DeliverResult> {
  const { store } = ctx;
  if (!store.exists(OUTBOX)) return { ...ZERO };
  const cfg = ctx.config.messaging;
  return store.withLock(OUTBOX, async () => {
    const ob = readOutbox(ctx);
    const now = ctx.clock();
    const force = new Set(opts.bots ?? []);
    const due = [...ob.byId.values()].filter((m) => isDue(m, now, force));
    if (due.length === 0) {
      await writeMeta(ctx, ob.byId.values());
      await maybeCompactOutbox(ctx, ob.byId, ob.records, now);
      return { ...ZERO };
    }
    due.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    const recipients = [...new Set(due.filter((m) => Date.parse(m.expires_at) > now).map((m) => m.to_bot))].filter((b) =>
      hasInbox(ctx, b),
    );
    // A mailbox that cannot be written (a directory, read-only) blocks only its own mail,
    // which is retried and in the end failed, not every command that delivers.
    const broken = new Map<string, string>();
    for (const b of recipients) {
      const why = unwritable(store, mailboxFile(b));
      if (why) broken.set(b, `recipient inbox cannot be written: ${why}`);
    }
    return store.withLock([...recipients.map(mailboxFile), AUDIT], async () => {
      const res = { ...ZERO };
      const obRecs: OutboxRecord[] = [];
      const audits: AuditRecord[] = [];
      const appends = new Map<string, MailboxRecord[]>();
      const boxes = new Map<string, MailboxState>();
      for (const b of recipients) if (!broken.has(b)) boxes.set(b, readMailbox(ctx, b));
      for (const m of due) {
        const box = boxes.get(m.to_bot);
        let blocked: string | undefined;
        if (broken.has(m.to_bot)) blocked = broken.get(m.to_bot);
        else if (!box) blocked = 'recipient has no inbox';
        else if (box.byId.has(m.message_id)) {
          // Appended before a crash but never marked: finish the move, do not deliver twice.
          const there = box.byId.get(m.message_id)!;
          m.status = 'delivered';
          m.delivered_at = there.delivered_at ?? iso(now);
          obRecs.push({ t: 'delivered', id: m.message_id, at: m.delivered_at });
          audits.push(audit('message_delivered', now, m, 'delivered', { recovered: true }));
          res.delivered++;
          continue;
        } else if (box.unread + (appends.get(m.to_bot)?.length ?? 0) >= cfg.max_inbox_unread) blocked = 'recipient inbox is full';
        const a = decideAttempt(m, now, blocked, false, cfg, ctx.random);
        const r = applyAttempt(m, a, now);
        Object.assign(m, r.message);
        audits.push(r.line);
        res[r.outcome]++;
        if (a.kind === 'deliver') {
          appends.set(m.to_bot, [...(appends.get(m.to_bot) ?? []), { t: 'msg', m: { ...m } }]);
          obRecs.push({ t: 'delivered', id: m.message_id, at: m.delivered_at! });
        } else if (a.kind === 'expire') obRecs.push({ t: 'expired', id: m.message_id, at: iso(now) });
        else if (a.kind === 'retry') obRecs.push({ t: 'retry', id: m.message_id, retry_count: a.retry_count, next_attempt_at: a.next_attempt_at, reason: a.reason });
        else obRecs.push({ t: 'failed', id: m.message_id, at: iso(now), reason: a.reason, retry_count: a.retry_count });
      }
      // One commit: deliveries, their outbox marks and audit lines all stay, or none does.
      appendAllHeld(store, [...[...appends].map(([b, recs]) => [mailboxFile(b), recs] as const), [OUTBOX, obRecs], [AUDIT, audits]]);
      await writeMeta(ctx, ob.byId.values());
      await maybeCompactOutbox(ctx, ob.byId, ob.records + obRecs.length, now);
      return res;
    });
  });
}

/**
 * Keep the outbox small: once most of its lines describe delivered messages, rewrite it
 * as one line per message still pending (or failed / expired within the retention period).
 * The caller holds the outbox lock.
 */
async function maybeCompactOutbox(ctx: HiveContext, byId: Map<string, Message>, lines: number, now: number): Promise<void> {
  const cutoff = now - ctx.config.messaging.read_retention_hours * 3_600_000;
  const keep = [...byId.values()].filter(
    (m) => m.status === 'pending' || ((m.status === 'failed' || m.status === 'expired') && Date.parse(m.expires_at) >= cutoff),
  );
  if (lines < 256 || lines < keep.length * 2) return;
  await ctx.store.rewriteHeld<OutboxRecord>(OUTBOX, async function* (src) {
    for await (const _ of src) {
      // drain: the folded state replaces every line
    }
    for (const m of keep) yield { t: 'msg', m } as OutboxRecord;
  });
}

// ------------------------------------------------------------------ registration

/**
 * Get or create a bot's inbox. The first time, the bot is written to bots.jsonl and its
 * empty mailbox created, both under the registry lock, so concurrent first looks register once.
 */
export async function ensureInbox(ctx: HiveContext, bot: string): Promise<{ bot_id: string; created: boolean }> {
  validateBotId(bot);
  if (hasInbox(ctx, bot)) return { bot_id: bot, created: false };
  const { store } = ctx;
  store.ensureDir('mailboxes');
  const res = await store.withLock([BOTS_FILE, mailboxFile(bot)], () => {
    if (hasInbox(ctx, bot)) return { bot_id: bot, created: false };
    const rec: BotRecord = { event: 'registered', bot_id: bot, timestamp: iso(ctx.clock()) };
    store.appendHeld(BOTS_FILE, [rec]);
    store.appendHeld(mailboxFile(bot), []);
    return { bot_id: bot, created: true };
  });
  // A new inbox receives the mail already waiting for it at once. A sender that looked for
  // this inbox before it existed holds (or held) the outbox lock, so the outbox file or its
  // lock is there whenever such mail can exist.
  if (res.created && (store.exists(OUTBOX) || store.exists(`${OUTBOX}.lock`))) {
    await deliverDue(ctx, { bots: [bot] });
  }
  return res;
}

// ------------------------------------------------------------------ send

export interface SendOptions {
  /** Prefix for error messages about input i (e.g. "line 3: "). */
  label?: (i: number) => string;
}

/** What a message id may be: it is stored, printed and matched by prefix, so nothing exotic. */
const MESSAGE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function newId(ctx: HiveContext): string {
  const id: unknown = ctx.ids();
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) {
    throw new DeiaError(
      `the id source produced an invalid message id ${JSON.stringify(String(id)).slice(0, 80)}`,
      'ids must be 1-128 letters, digits, ".", "_", ":" or "-"; check the ids option given to openHive',
    );
  }
  return id;
}

/**
 * The key records of `file` for the keys in `wanted` only: the file is streamed, so memory
 * holds what this send needs, not every key the sender ever used.
 */
async function readKeys(ctx: HiveContext, file: string, wanted: ReadonlySet<string>): Promise<Map<string, Message[]>> {
  const found = new Map<string, Message[]>();
  if (wanted.size === 0) return found;
  for await (const { record: r } of ctx.store.stream<KeyRecord>(file)) {
    if (r && typeof r.key === 'string' && wanted.has(r.key) && Array.isArray(r.messages) && !found.has(r.key)) found.set(r.key, r.messages);
  }
  return found;
}

/** Whether a message id is in `bot`'s archive (streamed: only asked for a message found nowhere else). */
async function inArchive(ctx: HiveContext, bot: string, id: string): Promise<boolean> {
  for await (const { record } of ctx.store.stream<Message>(archiveFile(bot))) if (record && record.message_id === id) return true;
  return false;
}

/**
 * Queue and deliver messages, all under one lock pass: grouped by recipient, one append
 * per file. Validates everything before writing anything. Returns the stored messages
 * (for a repeated idempotency key, the first send's messages).
 *
 * Idempotency keys (rule 6): the key record, holding the planned messages, is appended
 * first, then the mailboxes / outbox. A crash in between leaves a key whose messages are
 * missing; the next send with that key (under the same key-file lock) checks each of them
 * by id in its mailbox, the outbox and the archive, and stores only the missing ones.
 */
export async function sendMessages(ctx: HiveContext, inputs: readonly SendInput[], opts: SendOptions = {}): Promise<Message[]> {
  const { store } = ctx;
  const cfg = ctx.config.messaging;
  const label = opts.label ?? ((i: number) => (inputs.length > 1 ? `message ${i + 1}: ` : ''));
  const valid = inputs.map((inp, i) => validateSend(inp, cfg, ctx.identity, label(i)));
  if (valid.length === 0) return [];

  for (const s of new Set(valid.map((v) => v.from))) await ensureInbox(ctx, s);
  await deliverIfDue(ctx);

  const now = ctx.clock();
  const nowIso = iso(now);
  const known = valid.some((v) => v.to === ALL) ? knownBots(ctx) : [];
  const planned: Array<{ v: ValidSend; i: number; to: string; id: string }> = [];
  valid.forEach((v, i) => {
    const targets = v.to === ALL ? known.filter((b) => b !== v.from) : [v.to];
    for (const to of targets) planned.push({ v, i, to, id: newId(ctx) });
  });
  const recipients = [...new Set(planned.map((p) => p.to))];
  const keyed = valid.some((v) => v.key !== null);
  const keyFiles = keyed ? [...new Set(valid.filter((v) => v.key !== null).map((v) => keysFile(v.from)))] : [];
  const wantedKeys = new Map<string, Set<string>>();
  for (const v of valid) {
    if (v.key === null) continue;
    const f = keysFile(v.from);
    if (!wantedKeys.has(f)) wantedKeys.set(f, new Set());
    wantedKeys.get(f)!.add(v.key);
  }

  let withInbox = new Set(recipients.filter((b) => hasInbox(ctx, b)));
  let forceOutbox = false;
  // A repeated key whose messages must be checked: their recipients' mailboxes and the
  // outbox are locked too, so the check and any re-store see a settled state.
  const recoverBoxes = new Set<string>();
  for (let attempt = 0; ; attempt++) {
    const needOutbox = forceOutbox || recipients.some((b) => !withInbox.has(b));
    const boxes = new Set([...withInbox, ...[...recoverBoxes].filter((b) => hasInbox(ctx, b))]);
    const locks = [...(needOutbox ? [OUTBOX] : []), ...keyFiles, ...[...boxes].map(mailboxFile), AUDIT];
    const result = await store.withLock(locks, async () => {
      // An inbox created since we looked: take its lock on the next pass.
      for (const b of recipients) {
        if (hasInbox(ctx, b) !== withInbox.has(b)) {
          withInbox = new Set(recipients.filter((x) => hasInbox(ctx, x)));
          return undefined;
        }
      }
      // Idempotency keys seen before (in the file, or earlier in this batch).
      const seen = new Map<string, Message[]>();
      const fromFile = new Set<string>();
      for (const f of keyFiles) {
        for (const [key, ms] of await readKeys(ctx, f, wantedKeys.get(f)!)) {
          seen.set(`${f}\0${key}`, ms);
          fromFile.add(`${f}\0${key}`);
        }
      }
      // Recorded messages to check need their mailboxes and the outbox locked: if this
      // pass does not hold them, take them on the next.
      if (fromFile.size > 0) {
        let more = !needOutbox;
        for (const k of fromFile) {
          for (const m of seen.get(k)!) {
            recoverBoxes.add(m.to_bot);
            if (hasInbox(ctx, m.to_bot) && !boxes.has(m.to_bot)) more = true;
          }
        }
        if (more) {
          forceOutbox = true;
          return undefined;
        }
      }
      // Back-pressure needs each recipient's unread count. A message line is longer than
      // MIN_MSG_LINE bytes, so a small mailbox cannot be full and is not read at all.
      const unread = new Map<string, { n: number; exact: boolean }>();
      for (const b of withInbox) unread.set(b, { n: Math.floor(store.size(mailboxFile(b)) / MIN_MSG_LINE), exact: false });
      const isFull = (b: string, adding: number) => {
        const u = unread.get(b)!;
        if (u.n + adding < cfg.max_inbox_unread) return false;
        if (!u.exact) {
          u.n = readMailbox(ctx, b).unread;
          u.exact = true;
        }
        return u.n + adding >= cfg.max_inbox_unread;
      };
      const appends = new Map<string, MailboxRecord[]>();
      const addToBox = (b: string, r: MailboxRecord) => {
        const list = appends.get(b) ?? [];
        list.push(r);
        appends.set(b, list);
      };
      const obRecs: OutboxRecord[] = [];
      const audits: AuditRecord[] = [];
      const keyRecs = new Map<string, KeyRecord[]>();
      const out: Message[] = [];
      const created = new Map<number, Message[]>();
      const dupOf = new Map<number, Message[]>();
      valid.forEach((v, i) => {
        if (v.key === null) return;
        const k = `${keysFile(v.from)}\0${v.key}`;
        const prev = seen.get(k);
        if (prev) dupOf.set(i, prev);
        else {
          const mine: Message[] = [];
          seen.set(k, mine);
          created.set(i, mine);
        }
      });
      let outboxAdded: Message[] = [];
      for (const p of planned) {
        if (dupOf.has(p.i)) continue;
        const m = newMessage(p.v, p.to, p.id, now, cfg, nowIso);
        audits.push(audit('message_queued', now, m, 'pending', null));
        let blocked: string | undefined;
        if (!withInbox.has(p.to)) blocked = 'recipient has no inbox';
        else if (isFull(p.to, appends.get(p.to)?.length ?? 0)) blocked = 'recipient inbox is full';
        if (blocked && !needOutbox) {
          forceOutbox = true;
          return undefined;
        }
        const a = decideAttempt(m, now, blocked, true, cfg, ctx.random);
        if (a.kind === 'deliver') {
          m.status = 'delivered';
          m.delivered_at = nowIso;
          addToBox(p.to, { t: 'msg', m });
          audits.push(audit('message_delivered', now, m, 'delivered', null));
        } else if (a.kind === 'retry') {
          m.next_attempt_at = a.next_attempt_at;
          m.last_error = a.reason;
          obRecs.push({ t: 'msg', m });
          outboxAdded.push(m);
          audits.push(audit('message_retry', now, m, 'pending', { reason: a.reason, retry_count: 0, next_attempt_at: a.next_attempt_at }));
        } else if (a.kind === 'fail') {
          obRecs.push({ t: 'msg', m: { ...m } });
          m.status = 'failed';
          m.last_error = a.reason;
          obRecs.push({ t: 'failed', id: m.message_id, at: iso(now), reason: a.reason, retry_count: 0 });
          audits.push(audit('message_failed', now, m, 'failed', { reason: a.reason, retry_count: 0 }));
        }
        const ms = created.get(p.i) ?? [];
        ms.push(m);
        created.set(p.i, ms);
      }
      // A key recorded by a send that died before storing its messages: store the missing
      // ones now, as that send planned them, each checked by id where it could be by now.
      if (fromFile.size > 0) {
        const states = new Map<string, MailboxState>();
        const stateOf = (b: string) => states.get(b) ?? states.set(b, readMailbox(ctx, b)).get(b)!;
        const ob = store.exists(OUTBOX) ? readOutbox(ctx).byId : new Map<string, Message>();
        const checked = new Set<string>();
        for (const k of fromFile) {
          for (const m of seen.get(k)!) {
            if (checked.has(m.message_id)) continue;
            checked.add(m.message_id);
            const has = boxes.has(m.to_bot);
            if ((has && stateOf(m.to_bot).byId.has(m.message_id)) || ob.has(m.message_id)) continue;
            if (await inArchive(ctx, m.to_bot, m.message_id)) continue;
            const again = { recovered: true };
            audits.push(audit('message_queued', now, m, 'pending', again));
            if (m.status === 'delivered' && has) {
              addToBox(m.to_bot, { t: 'msg', m });
              audits.push(audit('message_delivered', now, m, 'delivered', again));
            } else if (m.status === 'failed') {
              obRecs.push({ t: 'msg', m: { ...m, status: 'pending' } });
              obRecs.push({ t: 'failed', id: m.message_id, at: iso(now), reason: m.last_error ?? 'failed', retry_count: m.retry_count });
              audits.push(audit('message_failed', now, m, 'failed', { ...again, reason: m.last_error, retry_count: m.retry_count }));
            } else {
              // Planned pending (or planned delivered to an inbox that is gone): the outbox
              // retries it now, and expires it if its TTL has passed.
              const p: Message = { ...m, status: 'pending', delivered_at: null, next_attempt_at: nowIso };
              obRecs.push({ t: 'msg', m: p });
              outboxAdded.push(p);
              audits.push(audit('message_retry', now, p, 'pending', { ...again, retry_count: p.retry_count, next_attempt_at: nowIso }));
            }
          }
        }
      }
      // Results in input order; a repeated key returns the first send's messages.
      valid.forEach((v, i) => {
        const dup = dupOf.get(i);
        if (dup) return void out.push(...dup);
        const ms = created.get(i) ?? [];
        out.push(...ms);
        if (v.key !== null) {
          const f = keysFile(v.from);
          const list = keyRecs.get(f) ?? [];
          list.push({ key: v.key, at: nowIso, ids: ms.map((m) => m.message_id), messages: ms });
          keyRecs.set(f, list);
        }
      });
      // Key records first (rule 6): a crash after them is repaired by the next send with
      // the key; a crash before them stored nothing at all.
      // The outbox state first: should the commit below fail, it at worst says mail is due
      // earlier than it is (one needless delivery pass), never later.
      if (obRecs.length) {
        const meta = store.readJson<OutboxMeta>(OUTBOX_STATE);
        const due = nextDueAt(outboxAdded);
        const prev = meta?.next_due_at ? Date.parse(meta.next_due_at) : null;
        const next = due === null ? prev : prev === null ? due : Math.min(prev, due);
        const m2: OutboxMeta = { next_due_at: next === null ? null : iso(next), pending: (meta?.pending ?? 0) + outboxAdded.length };
        if (!meta) {
          // No state yet: derive it from the whole outbox so an older pending message is not forgotten.
          const ob = readOutbox(ctx);
          const all = [...ob.byId.values(), ...outboxAdded];
          await writeMeta(ctx, all).catch((e) => Promise.reject(writeError(OUTBOX_STATE, e)));
        } else await store.writeFileAtomic(OUTBOX_STATE, JSON.stringify(m2) + '\n').catch((e) => Promise.reject(writeError(OUTBOX_STATE, e)));
      }
      // One commit: key records, deliveries, queued mail and audit lines all stay or none does.
      const batches: Batch[] = [...keyRecs, ...[...appends].map(([b, recs]) => [mailboxFile(b), recs] as const), [OUTBOX, obRecs], [AUDIT, audits]];
      try {
        appendAllHeld(store, batches);
      } catch (e) {
        if (e instanceof PartialCommitError) throw partialSend(e, keyRecs, appends, obRecs);
        throw e;
      }
      outboxAdded = [];
      return out;
    });
    if (result) return result;
    if (attempt > 20) throw new DeiaError('inboxes kept changing while sending', 'try again');
  }
}

/**
 * A send whose commit failed and could only partly be undone: says exactly which messages
 * stayed (by id and recipient) and whether their audit lines did; `stored` carries them.
 */
export class PartialSendError extends DeiaError {
  constructor(
    message: string,
    readonly stored: Message[],
    readonly audited: boolean,
  ) {
    super(message, 'retrying with the same --key stores only what is missing', 1, 'EPARTIAL');
    this.name = 'PartialSendError';
  }
}

function partialSend(e: PartialCommitError, keyRecs: Map<string, KeyRecord[]>, appends: Map<string, MailboxRecord[]>, obRecs: OutboxRecord[]): PartialSendError {
  const kept = new Set(e.kept);
  const stored: Message[] = [];
  for (const [b, recs] of appends) if (kept.has(mailboxFile(b))) for (const r of recs) if (r.t === 'msg') stored.push(r.m);
  if (kept.has(OUTBOX)) for (const r of obRecs) if (r.t === 'msg') stored.push(r.m);
  const audited = kept.has(AUDIT);
  const keyed = [...keyRecs.keys()].some((f) => kept.has(f));
  const list = stored.map((m) => `${m.message_id} to ${m.to_bot} (${m.status})`).join(', ');
  return new PartialSendError(
    `${e.message}: ${stored.length} message(s) stored: ${list || 'none'}; audit lines ${audited ? 'written' : 'not written'}${keyed ? '; key recorded' : ''}`,
    stored,
    audited,
  );
}

/**
 * Forget idempotency keys older than `messaging.key_retention_hours` (store.rewrite:
 * temp + rename under the key file's lock). A send reusing a forgotten key sends again.
 * Files with nothing old are looked at (streamed, no lock) but not rewritten.
 */
export async function compactKeys(ctx: HiveContext, opts: { dryRun?: boolean } = {}): Promise<KeyCompactResult> {
  const { store } = ctx;
  const cutoff = ctx.clock() - ctx.config.messaging.key_retention_hours * 3_600_000;
  const res: KeyCompactResult = { files: 0, dropped: 0, kept: 0 };
  // A record without a readable time (an older shape) ages by its first message.
  const isOld = (r: KeyRecord) => {
    const at = r && (typeof r.at === 'string' ? r.at : Array.isArray(r.messages) ? r.messages[0]?.created_at : undefined);
    const t = typeof at === 'string' ? Date.parse(at) : NaN;
    return !Number.isFinite(t) || t < cutoff;
  };
  const files = store
    .list('keys')
    .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.corrupt.jsonl'))
    .sort();
  for (const f of files) {
    const rel = `keys/${f}`;
    let old = 0;
    let total = 0;
    for await (const { record } of store.stream<KeyRecord>(rel)) {
      total++;
      if (isOld(record)) old++;
    }
    if (old === 0 || opts.dryRun) {
      if (old > 0) res.files++;
      res.dropped += old;
      res.kept += total - old;
      continue;
    }
    // Counted again inside the rewrite: keys added since the look above are kept.
    let dropped = 0;
    const stats = await store.rewrite<KeyRecord>(rel, async function* (src) {
      for await (const r of src) {
        if (isOld(r)) {
          dropped++;
          continue;
        }
        yield r;
      }
    });
    res.files++;
    res.dropped += dropped;
    res.kept += stats.kept;
  }
  return res;
}

// ------------------------------------------------------------------ inbox

/**
 * A bot's inbox (created if needed): unread messages, P0 first then oldest first.
 * With `next`, claims the top one (marks it read in the same locked step) and returns it
 * or null. With `wait`, blocks until a matching message arrives or the time is up.
 */
export async function inboxMessages(ctx: HiveContext, bot: string, opts: InboxOptions & { next: true }): Promise<Message | null>;
export async function inboxMessages(ctx: HiveContext, bot: string, opts?: InboxOptions): Promise<Message[]>;
export async function inboxMessages(ctx: HiveContext, bot: string, opts: InboxOptions = {}): Promise<Message[] | Message | null> {
  validateBotId(bot);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new UsageError(`--limit must be a positive whole number (got ${opts.limit})`);
  }
  if (opts.wait !== undefined && (!Number.isFinite(opts.wait) || opts.wait < 0)) {
    throw new UsageError(`--wait must be a number of seconds >= 0 (got ${opts.wait})`);
  }
  if (opts.lease !== undefined && !opts.next) throw new UsageError('--lease applies to a claim', 'use it with --next: deia inbox --next --lease 10m');
  const lease = opts.lease === undefined ? undefined : parseLease(opts.lease);
  await ensureInbox(ctx, bot);
  await deliverIfDue(ctx);
  const rel = mailboxFile(bot);
  const attempt = async (): Promise<Message[] | Message | null> => {
    if (opts.next) return claimNext(ctx, bot, opts.priority, lease);
    const list = selectInbox(readMailbox(ctx, bot), { ...opts, now: ctx.clock() });
    if (list.length === 0 || !opts.markRead) return list;
    return markShown(ctx, bot, list);
  };
  const empty = (r: Message[] | Message | null) => r === null || (Array.isArray(r) && r.length === 0);
  let since = ctx.store.stamp(rel);
  let r = await attempt();
  if (!empty(r) || !opts.wait) return r;
  // Wake on a change to the mailbox, and also when pending mail falls due (a full inbox
  // that a claim has since emptied receives it only through a retry) or a lease lapses.
  const deadline = Date.now() + opts.wait * 1000;
  while (empty(r)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const wake = nextWakeAt(ctx, bot);
    const ms = wake === null ? left : Math.min(left, Math.max(50, wake - ctx.clock()));
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    try {
      await ctx.store.waitForChange(rel, since, { signal: ac.signal });
    } finally {
      clearTimeout(timer);
    }
    ctx.store.layoutGuard?.(); // a reading wait takes no lock: it would wait on a mailbox no longer used
    since = ctx.store.stamp(rel);
    await deliverIfDue(ctx);
    r = await attempt();
  }
  return r;
}

/** The earliest time (on the hive's clock) something may change for a waiting claimer without a write to its mailbox. */
function nextWakeAt(ctx: HiveContext, bot: string): number | null {
  const due = outboxDueAt(ctx);
  const lapse = nextLapseAt(readMailbox(ctx, bot).messages, ctx.clock());
  return due === null ? lapse : lapse === null ? due : Math.min(due, lapse);
}

/** What a change to mailboxes appends: records per mailbox, then audit lines, and its result. */
interface MailboxChange<R> {
  result: R;
  appends?: Map<string, MailboxRecord[]>;
  audits?: AuditRecord[];
}

/**
 * The one read-modify-write of mailboxes: under their locks and the audit log's, fold each
 * mailbox afresh, let `decide` choose what to append from that settled state, append it,
 * then the audit lines (last, in the same critical section). Whatever was looked at
 * without the lock is only a hint: `decide` must check it against these states.
 */
async function changeMailboxes<R>(
  ctx: HiveContext,
  bots: readonly string[],
  decide: (states: ReadonlyMap<string, MailboxState>, now: number) => MailboxChange<R>,
): Promise<R> {
  const { store } = ctx;
  return store.withLock([...bots.map(mailboxFile), AUDIT], () => {
    const states = new Map(bots.map((b) => [b, readMailbox(ctx, b)] as const));
    const { result, appends, audits } = decide(states, ctx.clock());
    appendAllHeld(store, [...[...(appends ?? [])].map(([b, recs]) => [mailboxFile(b), recs] as const), [AUDIT, audits ?? []]]);
    return result;
  });
}

/**
 * Claim the top claimable message. Without a lease it is marked read in the same locked step
 * (at most once: a claimer that dies loses it); with one it is hidden until acked, nacked or
 * the lease lapses (at least once). The claimer is the acting bot, else the inbox's owner.
 */
async function claimNext(ctx: HiveContext, bot: string, priority?: Priority, leaseMs?: number): Promise<Message | null> {
  // Cheap look without the lock first: an empty inbox costs no lock.
  if (selectInbox(readMailbox(ctx, bot), { priority, limit: 1, now: ctx.clock() }).length === 0) return null;
  return changeMailboxes(ctx, [bot], (states, now) => {
    const top = selectInbox(states.get(bot)!, { priority, limit: 1, now })[0];
    if (!top) return { result: null };
    if (leaseMs !== undefined) {
      const { event, message } = leaseClaim(top, ctx.identity ?? bot, now, leaseMs);
      const details = { claimed_by: message.claimed_by, claim_count: message.claim_count, lease_expires_at: message.lease_expires_at };
      return { result: message, appends: new Map([[bot, [event]]]), audits: [audit('message_claimed', now, message, 'delivered', details)] };
    }
    const m: Message = { ...top, status: 'read', read_at: iso(now), lease_expires_at: null };
    return {
      result: m,
      appends: new Map([[bot, [{ t: 'read', id: m.message_id, at: m.read_at! }]]]),
      audits: [audit('message_read', now, m, 'read', { claimed: true })],
    };
  });
}

/**
 * `ack` / `nack` messages claimed with a lease, by id or unique prefix: all or none (a
 * message not held by the acting bot is refused before anything is written). Looks in
 * `opts.inbox`, else the acting bot's inbox, else every inbox.
 */
export async function settleMessages(ctx: HiveContext, kind: Settle, prefixes: readonly string[], opts: AckOptions = {}): Promise<Message[]> {
  const by = requireIdentity(ctx, kind);
  if (prefixes.length === 0) throw new UsageError('no message id given', `e.g. deia ${kind} 3f2a9c1b --as ${by}`);
  if (opts.claim !== undefined && (!Number.isInteger(opts.claim) || opts.claim < 1)) {
    throw new UsageError(`--claim must be a positive whole number (got ${opts.claim})`, 'give the claim_count the claim returned');
  }
  const own = hasInbox(ctx, by) ? [by] : [];
  const where = new Map<string, string>();
  const look = (bots: readonly string[]) => {
    for (const b of bots) for (const m of readMailbox(ctx, b).messages) if (!where.has(m.message_id)) where.set(m.message_id, b);
  };
  if (opts.inbox !== undefined) look([validateBotId(opts.inbox, 'inbox')]);
  else {
    look(own);
    if (!prefixes.every((p) => [...where.keys()].some((id) => id.startsWith(p)))) look(knownBots(ctx).filter((b) => b !== by));
  }
  const touched = [...new Set(resolvePrefixes(prefixes, [...where.keys()]).map((id) => where.get(id)!))];
  return changeMailboxes(ctx, touched, (states, now) => {
    const appends = new Map<string, MailboxRecord[]>();
    const audits: AuditRecord[] = [];
    const ids = resolvePrefixes(prefixes, [...states.values()].flatMap((st) => [...st.byId.keys()]));
    const result = ids.map((id) => {
      const b = touched.find((x) => states.get(x)!.byId.has(id))!;
      const cur = states.get(b)!.byId.get(id)!;
      const d = decideSettle(cur, kind, by, now, opts.claim);
      if ('refused' in d) throw new DeiaError(d.refused, `\`deia inbox ${b} --all --json\` shows claimed_by and claim_count`, 1, 'ENOTHELD');
      if (d.event) {
        applyLeaseEvent(cur, d.event); // a second id naming the same message sees it settled
        appends.set(b, [...(appends.get(b) ?? []), d.event]);
        const details = { claimed_by: by, claim_count: d.message.claim_count };
        audits.push(kind === 'ack' ? audit('message_acked', now, d.message, 'read', details) : audit('message_released', now, d.message, 'delivered', details));
      }
      return d.message;
    });
    return { result, appends, audits };
  });
}

async function markShown(ctx: HiveContext, bot: string, shown: Message[]): Promise<Message[]> {
  return changeMailboxes(ctx, [bot], (states, now) => {
    const st = states.get(bot)!;
    const reads: MailboxRecord[] = [];
    const audits: AuditRecord[] = [];
    const result = shown.map((s) => {
      const cur = st.byId.get(s.message_id) ?? s;
      if (!isClaimable(cur, now)) return { ...cur };
      const m: Message = { ...cur, status: 'read', read_at: iso(now) };
      reads.push({ t: 'read', id: m.message_id, at: m.read_at! });
      audits.push(audit('message_read', now, m, 'read', null));
      return m;
    });
    return { result, appends: new Map([[bot, reads]]), audits };
  });
}

// ------------------------------------------------------------------ read

/**
 * Mark messages read by id or unique id prefix, in `bot`'s inbox (or, without a bot,
 * in whichever inbox holds them). Already-read ones are returned unchanged.
 * Prefixes are resolved without the lock to know which mailboxes to lock, then again
 * under it: a message compacted away in between is "not found" (exit 2), not a crash.
 */
export async function markRead(ctx: HiveContext, prefixes: readonly string[], bot?: string): Promise<Message[]> {
  if (prefixes.length === 0) throw new UsageError('no message id given', 'e.g. deia read 3f2a9c1b');
  const bots = bot ? [validateBotId(bot)] : knownBots(ctx);
  const where = new Map<string, string>();
  for (const b of bots) for (const m of readMailbox(ctx, b).messages) where.set(m.message_id, b);
  const touched = [...new Set(resolvePrefixes(prefixes, [...where.keys()]).map((id) => where.get(id)!))];
  return changeMailboxes(ctx, touched, (states, now) => {
    const whereNow = new Map<string, string>();
    for (const [b, st] of states) for (const id of st.byId.keys()) whereNow.set(id, b);
    const ids = resolvePrefixes(prefixes, [...whereNow.keys()]);
    const audits: AuditRecord[] = [];
    const appends = new Map<string, MailboxRecord[]>();
    const done = new Set<string>();
    const result = ids.map((id) => {
      const b = whereNow.get(id)!;
      const cur = states.get(b)!.byId.get(id)!;
      if (cur.status !== 'delivered' || done.has(id)) return { ...cur };
      done.add(id);
      cur.status = 'read';
      cur.read_at = iso(now);
      const list = appends.get(b) ?? [];
      list.push({ t: 'read', id, at: cur.read_at });
      appends.set(b, list);
      audits.push(audit('message_read', now, cur, 'read', null));
      return { ...cur };
    });
    return { result, appends, audits };
  });
}

// ------------------------------------------------------------------ conversation

/** Every message between two bots, both directions, oldest first, with its status. */
export function conversation(ctx: HiveContext, a: string, b: string): Message[] {
  validateBotId(a);
  validateBotId(b);
  const inboxes = (a === b ? [a] : [a, b]).flatMap((bot) => readMailbox(ctx, bot).messages);
  return conversationOf(a, b, [...readOutbox(ctx).byId.values()], inboxes);
}

// ------------------------------------------------------------------ status

export type { BotStatus, MessagingStatus } from './rules.js';

/** Counts by status and priority, pending deliveries, and per-bot inbox figures. */
export function messagingStatus(ctx: HiveContext): MessagingStatus {
  const outbox = [...readOutbox(ctx).byId.values()];
  const names = new Set([...knownBots(ctx), ...outbox.filter((m) => m.status === 'pending').map((m) => m.to_bot)]);
  const bots = [...names].map((b) => {
    const has = hasInbox(ctx, b);
    return { bot_id: b, has_inbox: has, messages: has ? readMailbox(ctx, b).messages : [] };
  });
  return summarizeMessaging(ctx.clock(), outbox, bots);
}

/** Unread P0 + P1 messages per bot (a load signal for routing). */
export function urgentUnreadCounts(ctx: HiveContext, bots?: string[]): Record<string, number> {
  const out = dict<number>();
  // One listing instead of a lookup per bot: routing asks this for every candidate (500 bots).
  const files = new Set(ctx.store.list('mailboxes'));
  for (const b of bots ?? knownBots(ctx)) {
    let n = 0;
    if (files.has(`${b}.jsonl`)) for (const m of readMailbox(ctx, b).messages) if (m.status === 'delivered' && (m.priority === 'P0' || m.priority === 'P1')) n++;
    out[b] = n;
  }
  return out;
}

/** Messages waiting: pending in the outbox and unread in inboxes, per bot. */
export function queueDepth(ctx: HiveContext): QueueDepth {
  const by_bot: QueueDepth['by_bot'] = dict();
  let pending = 0;
  let unread = 0;
  for (const m of readOutbox(ctx).byId.values()) {
    if (m.status !== 'pending') continue;
    pending++;
    (by_bot[m.to_bot] ??= { pending: 0, unread: 0 }).pending++;
  }
  for (const b of knownBots(ctx)) {
    const u = readMailbox(ctx, b).unread;
    unread += u;
    (by_bot[b] ??= { pending: 0, unread: 0 }).unread += u;
  }
  return { pending, unread, total: pending + unread, by_bot };
}

// ------------------------------------------------------------------ compaction

/**
 * Drop read messages whose read time is older than `messaging.read_retention_hours`
 * from every mailbox (temp + rename under the mailbox lock); what is dropped is kept in
 * archive/mailboxes/<bot>.jsonl. Unread messages stay, whatever their age. The caller
 * (cleanup) logs `cleanup_completed`.
 */
export async function compactMailboxes(ctx: HiveContext, opts: { dryRun?: boolean } = {}): Promise<CompactResult> {
  const { store } = ctx;
  const cutoff = ctx.clock() - ctx.config.messaging.read_retention_hours * 3_600_000;
  const res: CompactResult = { mailboxes: 0, dropped: 0, kept: 0 };
  // An ack is written only when it settles the holder's claim, so it marks the message read as a read event does.
  const isOldRead = (r: MailboxRecord): r is Extract<MailboxRecord, { t: 'read' | 'ack' }> =>
    (r.t === 'read' || r.t === 'ack') && typeof r.id === 'string' && Date.parse(r.at) < cutoff;
  for (const b of knownBots(ctx)) {
    const rel = mailboxFile(b);
    // Look without the lock first, streaming and stopping at the first old read: a mailbox
    // with nothing to drop is neither locked nor rewritten.
    let anyOld = false;
    let messages = 0;
    for await (const { record } of store.stream<MailboxRecord>(rel)) {
      if (record.t === 'msg') messages++;
      else if (isOldRead(record)) {
        anyOld = true;
        break;
      }
    }
    if (!anyOld) {
      res.kept += messages;
      continue;
    }
    await store.withLock([rel, archiveFile(b)], async () => {
      // Pass 1: the ids of messages read before the cutoff, and nothing else, so memory
      // stays small however long the mailbox is (a read event is only ever written for a
      // message already in the mailbox). Pass 2 streams the file again through rewrite.
      const drop = new Map<string, string>();
      const claims = new Map<string, number>(); // claim_count of the archived copies
      let total = 0;
      for await (const { record } of store.stream<MailboxRecord>(rel)) {
        if (record.t === 'msg') total++;
        else if (isOldRead(record) && !drop.has(record.id)) drop.set(record.id, record.at);
        else if (record.t === 'claim' && typeof record.n === 'number') claims.set(record.id, record.n);
      }
      for (const id of claims.keys()) if (!drop.has(id)) claims.delete(id);
      res.kept += total - drop.size;
      if (drop.size === 0) return;
      res.mailboxes++;
      res.dropped += drop.size;
      if (opts.dryRun) return;
      // Archived copies are appended in batches before the rename, so a crash in between
      // leaves a message in both places, never in neither. The marker records where the
      // archive ended before this run's appends; it is removed only after the rename. A
      // marker found here means an earlier run died after appending: the ids in the archive
      // past its offset are already archived and are not appended again (rule 6). Only
      // that tail is read, and a second crash keeps the first offset, so the tail covers both.
      const marker = archiveMarkerFile(b);
      const arch = archiveFile(b);
      const prev = store.readJson<ArchiveMarker>(marker);
      const cur = store.cursorAtEnd(arch);
      const already = new Set<string>();
      // Same file as when the marker was written (or none then: all of it is that run's).
      const usable =
        prev && typeof prev.offset === 'number' && prev.offset <= cur.offset && (prev.ino === cur.ino || (!prev.ino && prev.offset === 0));
      if (usable) {
        for await (const { record } of store.stream<Message>(arch, { from: prev.offset, onBad: () => undefined })) {
          if (record && typeof record.message_id === 'string' && drop.has(record.message_id)) already.add(record.message_id);
        }
      } else await store.writeJsonHeld(marker, { offset: cur.offset, ino: cur.ino } satisfies ArchiveMarker);
      await store.rewriteMovingHeld<MailboxRecord, Message>(rel, arch, (r) => {
        if (r.t === 'msg' && r.m && drop.has(r.m.message_id)) {
          const id = r.m.message_id;
          const claimed = claims.has(id) ? { claim_count: claims.get(id)! } : {};
          return already.has(id) ? 'drop' : { archive: { ...r.m, ...claimed, status: 'read', read_at: drop.get(id) ?? null } };
        }
        // Every event of a dropped message goes with it (read, claim, ack, nack).
        return r.t !== 'msg' && drop.has(r.id) ? 'drop' : 'keep';
      });
      store.remove(marker);
    });
  }
  return res;
}

// ------------------------------------------------------------------ snapshot (deia migrate)

/** What messaging holds in a hive folder, as `deia migrate` copies it. */
export interface FolderMessaging {
  /** One registration per bot with an inbox, in the order they registered (bots.jsonl's lines). */
  bots: BotRecord[];
  /** Each inbox's messages, folded (status, read_at, claims, lease), in arrival order. */
  inboxes: Map<string, Message[]>;
  /** Mail not delivered: pending (waiting for an inbox or a retry), failed and expired. */
  undelivered: Message[];
  /** The `send --key` records (keys/<sender>.jsonl), the first of each key of each sender. */
  keys: SentKey[];
}

/** Sender files of `send --key` (keys/<sender>.jsonl). */
function keyFiles(ctx: HiveContext): string[] {
  return ctx.store
    .list('keys')
    .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.corrupt.jsonl'))
    .sort()
    .map((f) => `keys/${f}`);
}

async function readAllKeys(ctx: HiveContext, files: readonly string[]): Promise<SentKey[]> {
  const out: SentKey[] = [];
  for (const rel of files) {
    const from = rel.slice('keys/'.length, -'.jsonl'.length);
    const seen = new Set<string>();
    for await (const { record: r } of ctx.store.stream<KeyRecord>(rel)) {
      if (!r || typeof r.key !== 'string' || !Array.isArray(r.messages) || seen.has(r.key)) continue;
      seen.add(r.key);
      const at = typeof r.at === 'string' ? r.at : (r.messages[0]?.created_at ?? iso(ctx.clock()));
      out.push({ from, key: r.key, at, messages: r.messages });
    }
  }
  return out;
}

/**
 * Read messaging at one instant: `read` runs holding the registry's, the outbox's, every
 * mailbox's and the audit log's locks, so no send, read or delivery lands half in the snapshot.
 * Only local reads belong in `read` (no network call while the hive is held).
 */
export async function withMessagingSnapshot<R>(ctx: HiveContext, read: (s: FolderMessaging) => Promise<R>): Promise<R> {
  const { store } = ctx;
  for (let attempt = 0; attempt < 20; attempt++) {
    const bots = knownBots(ctx);
    const keys = keyFiles(ctx);
    const done = await store.withLock([BOTS_FILE, OUTBOX, ...keys, ...bots.map(mailboxFile), AUDIT], async () => {
      const have = knownBots(ctx);
      // A bot registered (or a sender's first key) between the listing and the locks: look again, taking its lock too.
      if (have.some((b) => !bots.includes(b)) || keyFiles(ctx).some((f) => !keys.includes(f))) return undefined;
      const regs = new Map<string, BotRecord>();
      for (const r of store.read<BotRecord>(BOTS_FILE).records) {
        if (r?.event === 'registered' && typeof r.bot_id === 'string' && have.includes(r.bot_id) && !regs.has(r.bot_id)) regs.set(r.bot_id, r);
      }
      // An inbox without its registration line (a damaged bots.jsonl) is registered now.
      for (const b of have) if (!regs.has(b)) regs.set(b, { event: 'registered', bot_id: b, timestamp: iso(ctx.clock()) });
      const inboxes = new Map(have.map((b) => [b, readMailbox(ctx, b).messages] as const));
      const undelivered = [...readOutbox(ctx).byId.values()].filter((m) => m.status !== 'delivered');
      return { value: await read({ bots: [...regs.values()], inboxes, undelivered, keys: await readAllKeys(ctx, keys) }) };
    });
    if (done) return done.value;
  }
  throw new DeiaError('bots kept registering while the hive was being read', 'try again when fewer bots are starting');
}
