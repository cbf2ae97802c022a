/**
 * One demo bot, run as its own process (`deia demo bot`): claims its next assignment from
 * its inbox, starts the task, "works" for its hidden speed, and finishes it as done or
 * failed according to its hidden skill. Until its stdin closes, a stop file appears, or time runs out.
 */
import type { HiveContext } from '../hive.js';
import { inboxMessages } from '../messaging/api.js';
import { finishTask, startTask } from '../tasks/api.js';
import { taskIdFromMessage } from '../tasks/model.js';
import type { BotProfile } from './profiles.js';

export const STOP_FILE = 'state/demo-stop';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BotRunStats {
  claimed: number;
  done: number;
  failed: number;
  errors: number;
}

export async function runDemoBot(
  ctx: HiveContext,
  profile: BotProfile,
  opts: { maxMs: number; stopped: () => boolean; fixedOutcome?: boolean },
): Promise<BotRunStats> {
  const stats: BotRunStats = { claimed: 0, done: 0, failed: 0, errors: 0 };
  const bot = profile.bot_id;
  const deadline = Date.now() + opts.maxMs;
  let idle = 0;
  while (Date.now() < deadline && !opts.stopped() && !ctx.store.exists(STOP_FILE)) {
    let msg;
    try {
      msg = await inboxMessages(ctx, bot, { next: true });
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
      const t = await startTask(ctx, taskId);
      const mean = profile.speed[t.task_type] ?? 300;
      if (mean > 0) await sleep(mean * (0.6 + 0.8 * ctx.random()));
      const success = ctx.random() < (profile.skill[t.task_type] ?? 0.5);
      await finishTask(ctx, taskId, {
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
