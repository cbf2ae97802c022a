/**
 * A queue file is a log of events; its items are what those events fold to. Pure functions, so
 * the rules (claim order, lease lapse) are tested without files.
 */
import type { QueueItem } from '../types.js';

export type QueueEvent<T = unknown> =
  | { t: 'item'; id: string; priority: number; created_at: number; payload: T; restored?: Restored }
  | { t: 'claim'; id: string; at: number; lease_until?: number; by?: string }
  | { t: 'ack' | 'nack'; id: string; at: number };

/** The claim state an item was restored with (`Queues.restore`), carried on its item event. */
export interface Restored {
  state: QueueItem['state'];
  claim_count: number;
  claimed_by?: string;
  claimed_at?: number;
  lease_until?: number;
}

/** Apply one event to the items folded so far (events for unknown ids are ignored). */
export function applyEvent<T>(items: Map<string, QueueItem<T>>, ev: QueueEvent<T>): void {
  if (ev.t === 'item') {
    if (!items.has(ev.id)) {
      const it: QueueItem<T> = { id: ev.id, priority: ev.priority, createdAt: ev.created_at, payload: ev.payload, state: 'ready', claimCount: 0 };
      const r = ev.restored;
      if (r) {
        it.state = r.state;
        it.claimCount = r.claim_count;
        if (r.claimed_by !== undefined) it.claimedBy = r.claimed_by;
        if (r.claimed_at !== undefined) it.claimedAt = r.claimed_at;
        if (r.state === 'leased' && r.lease_until !== undefined) it.leaseUntil = r.lease_until;
      }
      items.set(ev.id, it);
    }
    return;
  }
  const it = items.get(ev.id);
  if (!it) return;
  if (ev.t === 'claim') {
    it.claimCount += 1;
    it.claimedBy = ev.by;
    it.claimedAt = ev.at;
    if (ev.lease_until === undefined) {
      it.state = 'done';
      delete it.leaseUntil;
    } else {
      it.state = 'leased';
      it.leaseUntil = ev.lease_until;
    }
  } else {
    it.state = ev.t === 'ack' ? 'done' : 'ready';
    delete it.leaseUntil;
  }
}

export function foldQueue<T>(events: readonly QueueEvent<T>[]): Map<string, QueueItem<T>> {
  const items = new Map<string, QueueItem<T>>();
  for (const ev of events) applyEvent(items, ev);
  return items;
}

/** Whether a claim may take the item now: ready, or leased with its lease lapsed. */
export function isClaimable(it: QueueItem<unknown>, now: number): boolean {
  return it.state === 'ready' || (it.state === 'leased' && (it.leaseUntil ?? 0) <= now);
}

/**
 * The item a claim takes now: claimable, lowest priority, then oldest, then first to arrive (the
 * map keeps the file's order), so a batch sent in one millisecond is taken in the order it was sent.
 */
export function pickNext<T>(items: Map<string, QueueItem<T>>, now: number, priority?: number): QueueItem<T> | undefined {
  let best: QueueItem<T> | undefined;
  for (const it of items.values()) {
    if (!isClaimable(it, now) || (priority !== undefined && it.priority !== priority)) continue;
    if (!best || it.priority < best.priority || (it.priority === best.priority && it.createdAt < best.createdAt)) best = it;
  }
  return best;
}
