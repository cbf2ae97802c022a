/**
 * One demo bot, run as its own process (`deia demo bot`): claims its next assignment from
 * its inbox, starts the task, "works" for its hidden speed, and finishes it as done or
 * failed according to its hidden skill. Until its stdin closes, a stop file appears, or time runs out.
 */
import type { HiveContext } from '../hive.js';
import type { Message } from '../messaging/types.js';
import type { StorageBackend } from '../store/types.js';
import type { FinishInput } from '../tasks/api.js';
import { taskIdFromMessage, type Task } from '../tasks/model.js';
import type { BotProfile } from './profiles.js';

/** What a bot does to the hive, on its store. */
interface BotOps {
  next(bot: string): Promise<Message | null>;
  start(taskId: string): Promise<Task>;
  finish(taskId: string, input: FinishInput): Promise<unknown>;
}

async function storeOps(ctx: HiveContext, b: StorageBackend): Promise<BotOps> {
  const [{ inboxOn }, { startOn, finishOn }] = await Promise.all([import('../messaging/records.js'), import('../tasks/records.js')]);
  return {
    next: async (bot) => (await inboxOn(b, ctx, bot, { next: true })) as Message | null,
    start: (id) => startOn(b, ctx, id),
    finish: (id, input) => finishOn(b, ctx, id, input),
  };
}

export const STOP_FILE = 'state/demo-stop';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BotRunStats {
  claimed: number;
  done: number;
  failed: number;
  errors: number;
}

type RunOptions = { maxMs: number; stopped: () => boolean; fixedOutcome?: boolean };

/** Run on the hive's store, opened once for the bot's whole run (the stop file is looked for in the folder). */
export async function runDemoBot(ctx: HiveContext, profile: BotProfile, opts: RunOptions): Promise<BotRunStats> {
  const { onStore } = await import('../messaging/records.js');
  return onStore(ctx, async (b) => runWith(ctx, await storeOps(ctx, b), profile, opts));
}

async function runWith(ctx: HiveContext, ops: BotOps, profile: BotProfile, opts: RunOptions): Promise<BotRunStats> {
  const stats: BotRunStats = { claimed: 0, done: 0, failed: 0, errors: 0 };
  const bot = profile.bot_id;
  const deadline = Date.now() + opts.maxMs;
  let idle = 0;
  while (Date.now() < deadline && !opts.stopped() && !ctx.store.exists(STOP_FILE)) {
    let msg;
    try {
      msg = await ops.next(bot);
    } catch {
      stats.errors++;
      await sleep(100);
      continue;
    }
    const taskId = msg ? taskIdFromMessage(msg) : undefined;
    if (!msg || !taskId || msg.metadata?.kind === 'task_result') {
      idle = Math.min(idle + 1, 5);
      await sleep(20 * idle);
      continue;
    }
    idle = 0;
    stats.claimed++;
    try {
      const t = await ops.start(taskId);
      const mean = profile.speed[t.task_type] ?? 300;
      if (mean > 0) await sleep(mean * (0.6 + 0.8 * ctx.random()));
      const success = ctx.random() < (profile.skill[t.task_type] ?? 0.5);
      await ops.finish(taskId, {
        success,
        tokens: Math.round(200 + 800 * ctx.random()),
        reason: success ? undefined : 'demo: not good at this',
      });
      if (success) stats.done++;
      else stats.failed++;
    } catch {
      // Re-dispatched elsewhere, or already finished: move on to the next one.
      stats.errors++;
    }
  }
  return stats;
}
