import { iso } from '../common/clock.js';
import { validateBotId } from '../common/ids.js';
import type { HiveContext } from '../hive.js';
import { BOTS_FILE, OUTBOX_FILE } from '../common/files.js';

export { BOTS_FILE };
export const mailboxFile = (bot: string) => `mailboxes/${validateBotId(bot)}.jsonl`;

export interface BotRecord {
  event: 'registered';
  bot_id: string;
  timestamp: string;
}

/** A bot has an inbox once its mailbox file exists (registered, sent, or looked). */
export function hasInbox(ctx: HiveContext, bot: string): boolean {
  return ctx.store.exists(mailboxFile(bot));
}

/** Bots that have an inbox, sorted. */
export function knownBots(ctx: HiveContext): string[] {
  return ctx.store
    .list('mailboxes')
    .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.corrupt.jsonl'))
    .map((f) => f.slice(0, -'.jsonl'.length))
    .sort();
}

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
  if (res.created && (store.exists(OUTBOX_FILE) || store.exists(`${OUTBOX_FILE}.lock`))) {
    const { deliverDue } = await import('./ops.js');
    await deliverDue(ctx, { bots: [bot] });
  }
  return res;
}

