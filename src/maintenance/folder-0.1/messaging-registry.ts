/** Who has an inbox in a folder deia 0.1 made: registrations (bots.jsonl) and mailbox files. */
import { validateBotId } from '../../common/ids.js';
import type { HiveContext } from '../../hive.js';

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
