/**
 * Messaging in a folder deia 0.1 made, read for its upgrade, at one instant under 0.1's locks:
 *   mailboxes/<bot>.jsonl  delivered messages ({t:'msg'}) and read / claim events, folded
 *   outbox.jsonl           messages not yet delivered, and their retry / terminal transitions
 *   keys/<sender>.jsonl    idempotency keys of `send --key` and the messages they planned
 *   bots.jsonl             registrations
 */
import { iso } from '../../common/clock.js';
import { DeiaError } from '../../common/errors.js';
import { type HiveContext } from '../../hive.js';
import { BOTS_FILE } from '../../common/files.js';
import { knownBots, mailboxFile, type BotRecord } from './messaging-registry.js';
import {
  foldMailbox,
  foldOutbox,
  type MailboxState,
} from '../../messaging/rules.js';
import type {
  KeyRecord,
  MailboxRecord,
  Message,
  OutboxRecord,
} from '../../messaging/types.js';
import type { SentKey } from '../../messaging/records.js';
import { MESSAGING_LOG, OUTBOX_FILE } from '../../common/files.js';

function readMailbox(ctx: HiveContext, bot: string): MailboxState {
  return foldMailbox(ctx.store.read<MailboxRecord>(mailboxFile(bot)).records);
}

function readOutbox(ctx: HiveContext) {
  return foldOutbox(ctx.store.read<OutboxRecord>(OUTBOX_FILE).records);
}


/** What messaging holds in a hive folder, as `deia migrate` copies it. */
interface FolderMessaging {
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
    const done = await store.withLock([BOTS_FILE, OUTBOX_FILE, ...keys, ...bots.map(mailboxFile), MESSAGING_LOG], async () => {
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
