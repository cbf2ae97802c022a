/**
 * What routing reads from the other areas (docs/contracts.md), for the callers above them:
 * `deia recommend`, the library's `hive.recommend`, the demo. Routing (src/scheduling) imports no
 * other domain; this module, above the domains, gathers its candidates and signals: registered
 * bots and urgent unread mail from messaging, health levels from health, tasks in progress from
 * tasks. The tasks area routes its tasks with sources of its own (tasks/ops.ts, tasks/records.ts):
 * this module imports tasks, so tasks cannot import it.
 *
 * The areas are loaded when their signal is read: a `recommend` that shows no load (no --json)
 * never loads messaging's operations or the tasks area.
 */
import type { HiveContext } from './hive.js';
import type { RoutingSources } from './scheduling/signals.js';
import type { StorageBackend } from './store/types.js';

/** Routing's sources on the hive's store: each area's records. */
export function storeRoutingSources(b: StorageBackend, ctx: HiveContext): RoutingSources {
  return {
    registered: async () => (await import('./messaging/records.js')).registeredBots(b),
    health: async (bots) => (await import('./health/records.js')).routingLevelsOn(b, ctx, bots),
    urgentUnread: async (bots) => (await import('./messaging/records.js')).urgentUnreadOn(b, bots),
    inProgress: async () => (await import('./tasks/records.js')).inProgressCountsOn(b),
  };
}
