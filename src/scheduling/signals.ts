/**
 * The health and load signals routing weighs, gathered from the other areas' operations
 * (docs/contracts.md) — they read the store's files, never another command's output.
 * A signal that cannot be read is left out with a warning: routing still works on outcomes.
 */
import type { HiveContext } from '../hive.js';
import type { HealthLevel, Signals } from './policy.js';

export async function gatherSignals(ctx: HiveContext, bots: string[]): Promise<Signals> {
  const attempt = async <T>(what: string, fn: () => Promise<T> | T): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      ctx.store.warn(`routing without ${what}: ${(e as Error)?.message ?? String(e)}`);
      return undefined;
    }
  };
  const [health, urgentUnread, inProgress] = await Promise.all([
    attempt('health levels', async () => {
      const { botRoutingLevels } = await import('../health/api.js');
      return (await botRoutingLevels(ctx)) as Record<string, HealthLevel>;
    }),
    attempt('unread message counts', async () => {
      const { urgentUnreadCounts } = await import('../messaging/api.js');
      return urgentUnreadCounts(ctx, bots);
    }),
    attempt('tasks in progress', async () => {
      const { inProgressCounts } = await import('../tasks/api.js');
      return inProgressCounts(ctx);
    }),
  ]);
  return { health, urgentUnread, inProgress };
}
