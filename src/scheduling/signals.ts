/**
 * The health and load signals routing weighs or shows, gathered from the other areas'
 * operations (docs/contracts.md) — they read the store's files, never another command's output.
 * A signal that cannot be read is left out with a warning: routing still works on outcomes.
 *
 * Only the candidates' signals are read, so the cost follows the type asked about, not the
 * hive. Load (urgent unread messages + tasks in progress) is only shown, never weighed: it is
 * read only when the caller shows it (`recommend --json`, the library), since counting urgent
 * unread messages reads every candidate's mailbox.
 */
import type { HiveContext } from '../hive.js';
import type { HealthLevel, Signals } from './policy.js';

export async function gatherSignals(ctx: HiveContext, bots: string[], opts: { load?: boolean } = {}): Promise<Signals> {
  const attempt = async <T>(what: string, fn: () => Promise<T> | T): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      ctx.store.warn(`routing without ${what}: ${(e as Error)?.message ?? String(e)}`);
      return undefined;
    }
  };
  const load = opts.load ?? true;
  const [health, urgentUnread, inProgress] = await Promise.all([
    attempt('health levels', async () => {
      const { routingLevelsFor } = await import('../health/api.js');
      return (await routingLevelsFor(ctx, bots)) as Record<string, HealthLevel>;
    }),
    load
      ? attempt('unread message counts', async () => {
          const { urgentUnreadCounts } = await import('../messaging/api.js');
          return urgentUnreadCounts(ctx, bots);
        })
      : undefined,
    load
      ? attempt('tasks in progress', async () => {
          const { inProgressCounts } = await import('../tasks/api.js');
          return inProgressCounts(ctx);
        })
      : undefined,
  ]);
  return { health, urgentUnread, inProgress };
}
