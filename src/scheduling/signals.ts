/**
 * The candidates and the health and load signals routing weighs or shows. They belong to other
 * areas (messaging's registered bots and unread mail, health's levels, tasks in progress), so
 * routing does not read them itself: its caller supplies them as `RoutingSources`
 * (src/routing-signals.ts for `recommend` and the library, the tasks area for its own routing).
 * Scheduling imports none of those areas, and they may import scheduling.
 *
 * A signal that cannot be read is left out with a warning: routing still works on outcomes.
 * Only the candidates' signals are read, so the cost follows the type asked about, not the
 * hive. Load (urgent unread messages + tasks in progress) is only shown, never weighed: it is
 * read only when the caller shows it (`recommend --json`, the library), since counting urgent
 * unread messages reads every candidate's mailbox.
 */
import type { HiveContext } from '../hive.js';
import type { HealthLevel, Signals } from './policy.js';

type Maybe<T> = T | Promise<T>;

/** What routing reads from the other areas, given by whoever asks for a recommendation. */
export interface RoutingSources {
  /** Bots registered in the hive (candidates before their first outcome), in registration or sorted order. */
  registered(): Maybe<Iterable<string>>;
  /** The candidates' health levels (a CRITICAL bot is excluded, a DEGRADED one penalised). */
  health(bots: readonly string[]): Maybe<Record<string, HealthLevel>>;
  /** Unread P0/P1 messages per candidate (load, shown only). */
  urgentUnread(bots: readonly string[]): Maybe<Record<string, number>>;
  /** Tasks assigned or in progress per bot (load, shown only). */
  inProgress(): Maybe<Record<string, number>>;
}

/** A signal, or undefined with a warning when it cannot be read. */
export async function attemptSignal<T>(ctx: HiveContext, what: string, fn: () => Maybe<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    ctx.store.warn(`routing without ${what}: ${(e as Error)?.message ?? String(e)}`);
    return undefined;
  }
}

export async function gatherSignals(ctx: HiveContext, bots: string[], sources: RoutingSources, opts: { load?: boolean } = {}): Promise<Signals> {
  const load = opts.load ?? true;
  const [health, urgentUnread, inProgress] = await Promise.all([
    attemptSignal(ctx, 'health levels', () => sources.health(bots)),
    load ? attemptSignal(ctx, 'unread message counts', () => sources.urgentUnread(bots)) : undefined,
    load ? attemptSignal(ctx, 'tasks in progress', () => sources.inProgress()) : undefined,
  ]);
  return { health, urgentUnread, inProgress };
}
