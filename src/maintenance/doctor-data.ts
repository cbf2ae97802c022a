/**
 * The data checks of `deia doctor` on a hive run through the storage interface, for both backends
 * that have one: a PostgreSQL store (doctor-postgres.ts) and a file:// folder (doctor-interface.ts).
 * Each hands in a `RawSource`: its queue items, documents and log lines as it stores them, read
 * below the interface so that what would make the interface throw is seen and named:
 *   queue items      payload is JSON, and a message where the queue holds mail (inbox., pending., dead.);
 *                    a lease that lapsed more than LAPSED_LEASE_MS ago and was never claimed again
 *   documents        value is JSON, and of its kind (outbox, bot., key., presence., hook.)
 *   pending mail     past its TTL or its retry time by more than OVERDUE_GRACE_MS: cleanup is not running
 *   logs             every line is JSON; bot-messaging's deliveries agree with the inboxes
 * `--repair` runs only the delivery step of `deia cleanup` (deliverDueOn: the folder's rules, one
 * transaction), which delivers, retries or expires overdue mail. Nothing else is changed here.
 */
import { iso } from '../common/clock.js';
import { isBotId } from '../common/ids.js';
import { formatAge, PRIORITIES } from '../common/parse.js';
import type { HiveContext } from '../hive.js';
import { hookStateDoc } from '../hooks/runtime.js';
import type { Message } from '../messaging/types.js';
import { STATUSES } from '../messaging/types.js';
import { PRESENCE_DOC_PREFIX, presenceDocProblem } from '../presence/presence.js';
import type { StorageBackend } from '../store/types.js';
import { MAX_LISTED_PER_FILE, preview, type DoctorResult, type Problem } from './doctor-report.js';
import type { RawDocument, RawItem, RawLogLine } from '../store/raw.js';

/** A lease that lapsed longer ago than this, and nobody claimed the item since: its holder is gone and nobody looks. */
export const LAPSED_LEASE_MS = 3_600_000;
/** Pending mail overdue (TTL or retry) by more than this: nothing ran `deia cleanup` (or any command) for that long. */
export const OVERDUE_GRACE_MS = 10 * 60_000;
/** Deliveries logged within read retention (less this margin for clocks) must still be in an inbox: retention cannot have removed them. */
const CLOCK_MARGIN_MS = 3_600_000;

const MAIL_QUEUE = /^(inbox|pending|dead)\.(.+)$/;

/** What a backend stores, read without the interface, and how to name where each thing is. */
export interface RawSource {
  /** Open for the domain operations too (a repair runs cleanup's delivery step through it). */
  backend: StorageBackend;
  queueItems(): AsyncIterable<RawItem>;
  documents(): AsyncIterable<RawDocument>;
  /** Every line of every log (not the archive); `seq` is its sequence or line number. */
  logLines(): AsyncIterable<RawLogLine>;
  /** A problem's `path` for a queue, a document, a log. */
  where: { queue(name: string): string; document(key: string): string; log(name: string): string };
  /** Where a user finds the stored thing to fix it by hand. */
  locate: { item(queue: string, id: string): string; document(key: string): string; line(log: string, seq: number): string };
}

/** Problems of one kind and place beyond MAX_LISTED_PER_FILE are counted in one more line. */
class Listing {
  private readonly counts = new Map<string, { n: number; kind: Problem['kind']; path: string }>();
  constructor(private readonly result: DoctorResult) {}

  add(p: Problem): void {
    const k = `${p.kind}\0${p.path}`;
    const c = this.counts.get(k) ?? { n: 0, kind: p.kind, path: p.path };
    c.n++;
    this.counts.set(k, c);
    if (c.n <= MAX_LISTED_PER_FILE) this.result.problems.push(p);
  }

  finish(): void {
    for (const c of this.counts.values()) {
      if (c.n > MAX_LISTED_PER_FILE) this.result.problems.push({ kind: c.kind, path: c.path, detail: `… and ${c.n - MAX_LISTED_PER_FILE} more`, repaired: false });
    }
  }
}

/** What the checks gather for the audit on the way: the inboxes and the ids in them. */
interface Seen {
  inInbox: Set<string>;
  inboxes: Set<string>;
}

export async function checkData(src: RawSource, ctx: HiveContext, repair: boolean, result: DoctorResult): Promise<void> {
  const list = new Listing(result);
  const seen: Seen = { inInbox: new Set(), inboxes: new Set() };
  await checkQueueItems(src, ctx.clock(), list, seen, result);
  const overdue = await checkDocuments(src, ctx.clock(), list, seen, result);
  for (const p of await overdueProblems(src, ctx, overdue, repair)) list.add(p);
  await checkLogs(src, ctx, list, seen, result);
  list.finish();
}

/** 1. Queue items: payload parses, mail is a message, no lease lapsed long ago. */
async function checkQueueItems(src: RawSource, now: number, list: Listing, seen: Seen, result: DoctorResult): Promise<void> {
  for await (const it of src.queueItems()) {
    result.records_checked++;
    const where = src.where.queue(it.queue);
    const mail = MAIL_QUEUE.exec(it.queue);
    if (mail?.[1] === 'inbox') {
      seen.inboxes.add(mail[2]!);
      seen.inInbox.add(it.id);
    }
    const leave = `not changed by doctor: until it is fixed or removed (${src.locate.item(it.queue, it.id)})`;
    let payload: unknown;
    try {
      payload = JSON.parse(it.payload);
    } catch {
      list.add({ kind: 'bad_payload', path: where, detail: `item ${it.id}: payload does not parse: ${preview(it.payload)}`, repaired: false, action: `${leave}, listing this queue fails` });
      continue;
    }
    if (mail) {
      const why = messageProblem(payload, mail[2]!, it.id);
      if (why) list.add({ kind: 'bad_payload', path: where, detail: `item ${it.id} is not a valid message: ${why}`, repaired: false, action: leave });
    }
    if (it.state === 'leased' && it.lease_until !== null && now - it.lease_until > LAPSED_LEASE_MS) {
      list.add({
        kind: 'lapsed_lease',
        path: where,
        detail: `item ${it.id}: the lease of ${it.claimed_by ?? 'a claimer'} lapsed ${formatAge(now - it.lease_until)} ago and nobody claimed it since`,
        repaired: false,
        action: mail?.[1] === 'inbox' ? `it is claimable again: \`deia inbox --next --as ${mail[2]}\` takes it (doctor leaves claims alone)` : 'it is claimable again (doctor leaves claims alone)',
      });
    }
  }
}

/** 2. Documents parse and are of their kind; returns the overdue pending mail of the outbox. */
async function checkDocuments(src: RawSource, now: number, list: Listing, seen: Seen, result: DoctorResult): Promise<Message[]> {
  const overdue: Message[] = [];
  for await (const d of src.documents()) {
    result.records_checked++;
    // A registered bot has an inbox, empty or not (a folder's mailbox file): counted as one.
    if (d.key.startsWith('bot.')) seen.inboxes.add(d.key.slice(4));
    const where = src.where.document(d.key);
    const leave = `not changed by doctor: fix or remove it (${src.locate.document(d.key)})`;
    if (d.stored !== undefined) {
      list.add({ kind: 'bad_document', path: where, detail: `not a stored document: ${d.stored}`, repaired: false, action: leave });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(d.value);
    } catch {
      list.add({ kind: 'bad_document', path: where, detail: `does not parse: ${preview(d.value)}`, repaired: false, action: leave });
      continue;
    }
    const why = documentProblem(d.key, value);
    if (why) {
      list.add({ kind: 'bad_document', path: where, detail: `not a valid ${kindOf(d.key)} document: ${why}`, repaired: false, action: leave });
      continue;
    }
    if (d.key === 'outbox') for (const m of (value as { messages: Message[] }).messages) if (overdueSince(m, now) !== undefined) overdue.push(m);
  }
  return overdue;
}

/** Overdue pending mail, one problem each; with `repair`, cleanup's delivery step runs first and says which it handled. */
async function overdueProblems(src: RawSource, ctx: HiveContext, overdue: Message[], repair: boolean): Promise<Problem[]> {
  const now = ctx.clock();
  const pairs = overdue.map((m): [Message, Problem] => {
    const since = overdueSince(m, now)!;
    const what = since.ttl ? `expired ${formatAge(now - since.at)} ago (TTL) and is still pending` : `retry due ${formatAge(now - since.at)} ago`;
    return [m, { kind: 'overdue_mail', path: src.where.document('outbox'), detail: `message ${m.message_id} to ${m.to_bot}: ${what}: \`deia cleanup\` is not running`, repaired: false, action: 'run `deia cleanup` (from cron), or `deia doctor --repair`' }];
  });
  if (repair && overdue.length) {
    // The delivery step of `deia cleanup`, nothing else: the folder's rules decide, in one transaction.
    const b = src.backend;
    const { deliverDueOn } = await import('../messaging/records.js');
    const r = await deliverDueOn(b, ctx);
    const still = new Set(((await b.docs.get<{ messages: Message[] }>('outbox'))?.value.messages ?? []).filter((m) => overdueSince(m, ctx.clock()) !== undefined).map((m) => m.message_id));
    for (const [m, p] of pairs) {
      p.repaired = !still.has(m.message_id);
      p.action = p.repaired ? `handled by cleanup's delivery step (${r.delivered} delivered, ${r.retried} retried, ${r.failed} failed, ${r.expired} expired)` : 'still pending after the delivery step: see `deia status`';
    }
  }
  return pairs.map(([, p]) => p);
}

/** 3. Logs: every line parses; bot-messaging's deliveries are in the inboxes. */
async function checkLogs(src: RawSource, ctx: HiveContext, list: Listing, seen: Seen, result: DoctorResult): Promise<void> {
  const now = ctx.clock();
  const delivered = new Map<string, { to: string; at: number }>();
  for await (const l of src.logLines()) {
    result.records_checked++;
    let rec: any;
    try {
      rec = JSON.parse(l.line);
    } catch {
      list.add({ kind: 'corrupt_line', path: src.where.log(l.log), line: l.seq, detail: `line does not parse: ${preview(l.line)}`, repaired: false, action: `not changed by doctor (${src.locate.line(l.log, l.seq)})` });
      continue;
    }
    if (l.log === 'bot-messaging' && rec?.event === 'message_delivered' && typeof rec.message_id === 'string') {
      delivered.set(rec.message_id, { to: String(rec.to_bot ?? '?'), at: Date.parse(rec.timestamp) });
    }
  }
  // Through the interface `deia cleanup` forgets read mail read before read_retention_hours (no
  // archive): a delivery logged after that cutoff cannot have been forgotten, so its absence is a problem.
  const cutoff = now - ctx.config.messaging.read_retention_hours * 3_600_000 + CLOCK_MARGIN_MS;
  let missing = 0;
  for (const [id, d] of delivered) {
    if (seen.inInbox.has(id) || !(d.at >= cutoff)) continue;
    missing++;
    list.add({
      kind: 'audit_mismatch',
      path: src.where.queue(`inbox.${d.to}`),
      detail: `message ${id} is logged as delivered (${iso(d.at)}) in the bot-messaging log but is in no inbox, and retention cannot have removed it yet`,
      repaired: false,
      action: 'the sender may resend it',
    });
  }
  let unlogged = 0;
  for (const id of seen.inInbox) if (!delivered.has(id)) unlogged++;
  result.audit = { mailboxes: seen.inboxes.size, in_mailboxes: seen.inInbox.size, archived: 0, delivered_events: delivered.size, missing, unlogged };
}

/** When pending mail became overdue by more than the grace (its TTL, else its retry time), or undefined. */
function overdueSince(m: Message, now: number): { at: number; ttl: boolean } | undefined {
  if (m.status !== 'pending') return undefined;
  const exp = Date.parse(m.expires_at);
  if (Number.isFinite(exp) && now - exp > OVERDUE_GRACE_MS) return { at: exp, ttl: true };
  const next = m.next_attempt_at === null ? NaN : Date.parse(m.next_attempt_at);
  if (Number.isFinite(next) && now - next > OVERDUE_GRACE_MS) return { at: next, ttl: false };
  return undefined;
}

const isTime = (v: unknown) => typeof v === 'string' && Number.isFinite(Date.parse(v));

/** Pure: why a stored payload is not a message (in queue `<kind>.<bot>` under `id`), or undefined. */
export function messageProblem(v: unknown, bot?: string, id?: string): string | undefined {
  const m = v as Partial<Message> | null;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return 'not an object';
  if (typeof m.message_id !== 'string' || (id !== undefined && m.message_id !== id)) return `message_id ${JSON.stringify(m.message_id)} ${id === undefined ? 'is not a string' : `is not the item's id`}`;
  for (const f of ['from_bot', 'to_bot'] as const) if (typeof m[f] !== 'string' || !isBotId(m[f])) return `${f} is not a bot id`;
  if (bot !== undefined && m.to_bot !== bot) return `addressed to ${m.to_bot}, stored for ${bot}`;
  if (typeof m.content !== 'string') return 'content is not text';
  if (!PRIORITIES.includes(m.priority as never)) return `priority ${JSON.stringify(m.priority)} is not P0-P3`;
  if (!STATUSES.includes(m.status as never)) return `status ${JSON.stringify(m.status)} is unknown`;
  for (const f of ['created_at', 'expires_at'] as const) if (!isTime(m[f])) return `${f} is not a time`;
  if (typeof m.retry_count !== 'number' || typeof m.max_retries !== 'number') return 'retry_count / max_retries are not numbers';
  return undefined;
}

function kindOf(key: string): string {
  if (key === 'outbox') return 'outbox';
  return key.split('.')[0]!;
}

/** Pure: why a document is not of its kind (by its key), or undefined. Kinds other areas own are only parsed. */
export function documentProblem(key: string, v: unknown): string | undefined {
  const obj = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  if (key === 'outbox') {
    if (!obj || !Array.isArray(obj.messages)) return 'messages is not a list';
    for (const m of obj.messages) {
      const why = messageProblem(m);
      if (why) return `message ${JSON.stringify((m as Message)?.message_id)}: ${why}`;
    }
    return undefined;
  }
  if (key.startsWith('bot.')) {
    if (!obj || obj.bot_id !== key.slice(4)) return 'bot_id does not match the key';
    return isTime(obj.timestamp) ? undefined : 'timestamp is not a time';
  }
  if (key.startsWith('key.')) {
    if (!obj || typeof obj.key !== 'string' || !Array.isArray(obj.messages)) return 'key or messages missing';
    for (const m of obj.messages) {
      const why = messageProblem(m);
      if (why) return `message ${JSON.stringify((m as Message)?.message_id)}: ${why}`;
    }
    return undefined;
  }
  if (key.startsWith(PRESENCE_DOC_PREFIX)) return presenceDocProblem(key, v);
  if (key.startsWith(hookStateDoc(''))) {
    if (!obj || !Array.isArray(obj.keys) || !obj.keys.every((k) => typeof k === 'string')) return 'keys is not a list of ids';
    return isTime(obj.at) ? undefined : 'at is not a time';
  }
  return undefined;
}
