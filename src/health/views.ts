/**
 * What the dashboard shows over a chosen window (pure): per-minute counts folded from the
 * hive's logs, rolled up into the window's slots. The traffic view (messages sent, claimed and
 * expired per minute, queue depth) comes from bot-messaging.jsonl; the routing view (per task
 * type, which bot does the work, its success rate and trend) from performance.jsonl.
 */
import { UsageError } from '../common/errors.js';
import { MINUTE, quantile, type Agg, type PerfBucket } from './agg.js';
import type { MetricName } from './rules.js';

export const WINDOWS = {
  '15m': { minutes: 15, step: 1, label: '15 min' },
  '1h': { minutes: 60, step: 1, label: '1 h' },
  '24h': { minutes: 1440, step: 15, label: '24 h' },
} as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];
/** The longest window: what the dashboard keeps in memory. */
export const KEEP_MINUTES = 1440;

export function parseWindow(s: string | null | undefined, fallback: WindowName = '1h'): WindowName {
  if (s === null || s === undefined || s === '') return fallback;
  if ((WINDOW_NAMES as string[]).includes(s)) return s as WindowName;
  throw new UsageError(`unknown window "${s}"`, `use one of ${WINDOW_NAMES.join(', ')}`);
}

/** The slots of a window: `slots[i]` is the first minute of slot i; the last slot holds `now`. */
export interface Frame {
  window: WindowName;
  step: number;
  slots: number[];
  /** Time range shown (ms): start of the first slot to the end of the last. */
  from: number;
  to: number;
}

export function frameOf(window: WindowName, now: number): Frame {
  const { minutes, step } = WINDOWS[window];
  const last = Math.floor(now / MINUTE / step) * step;
  const n = Math.ceil(minutes / step);
  const slots = Array.from({ length: n }, (_, i) => last - (n - 1 - i) * step);
  return { window, step, slots, from: slots[0]! * MINUTE, to: (last + step) * MINUTE };
}

/** The slot index of a minute, or -1 outside the frame. */
function slotOf(f: Frame, minute: number): number {
  const i = Math.floor((minute - f.slots[0]!) / f.step);
  return i >= 0 && i < f.slots.length ? i : -1;
}

/** minute -> counts (by position). */
export type Counts = Map<number, number[]>;

export function bump(c: Counts, minute: number, index: number, width: number, by = 1): void {
  let row = c.get(minute);
  if (!row) c.set(minute, (row = new Array<number>(width).fill(0)));
  row[index]! += by;
}

export function pruneCounts(c: Counts, minMinute: number): void {
  for (const m of c.keys()) if (m < minMinute) c.delete(m);
}

/** Per-slot sums of column `index`. */
function rollUp(c: Counts | undefined, f: Frame, index: number): number[] {
  const out = new Array<number>(f.slots.length).fill(0);
  if (!c) return out;
  for (const [m, row] of c) {
    const i = slotOf(f, m);
    if (i >= 0) out[i]! += row[index] ?? 0;
  }
  return out;
}

// ---------------------------------------------------------------- traffic

/** Columns of the traffic counts. */
export const TRAFFIC = ['sent', 'claimed', 'read', 'expired', 'failed'] as const;
type TrafficCol = (typeof TRAFFIC)[number];
const T = Object.fromEntries(TRAFFIC.map((k, i) => [k, i])) as Record<TrafficCol, number>;

/** The part of a bot-messaging.jsonl line the traffic view reads. */
export interface MessagingEvent {
  timestamp: string;
  event: string;
  to_bot?: string | null;
  details?: Record<string, unknown> | null;
}

/** Per-minute message counts, for the hive and per recipient ([arrived, left] its queue). */
export interface TrafficCounts {
  all: Counts;
  byBot: Map<string, Counts>;
}

export function emptyTraffic(): TrafficCounts {
  return { all: new Map(), byBot: new Map() };
}

export function pruneTraffic(c: TrafficCounts, minMinute: number): void {
  pruneCounts(c.all, minMinute);
  for (const [bot, b] of c.byBot) {
    pruneCounts(b, minMinute);
    if (b.size === 0) c.byBot.delete(bot);
  }
}

/** Fold one audit line: which traffic column it counts in, if any. */
export function foldTraffic(c: TrafficCounts, e: MessagingEvent): void {
  const t = Date.parse(e.timestamp);
  if (!Number.isFinite(t)) return;
  const col: TrafficCol | null =
    e.event === 'message_queued'
      ? 'sent'
      : e.event === 'message_read'
        ? e.details?.claimed === true
          ? 'claimed'
          : 'read'
        : e.event === 'message_expired'
          ? 'expired'
          : e.event === 'message_failed'
            ? 'failed'
            : null;
  if (!col) return;
  const minute = Math.floor(t / MINUTE);
  bump(c.all, minute, T[col], TRAFFIC.length);
  if (typeof e.to_bot === 'string') {
    let b = c.byBot.get(e.to_bot);
    if (!b) c.byBot.set(e.to_bot, (b = new Map()));
    bump(b, minute, col === 'sent' ? 0 : 1, 2);
  }
}

/**
 * Messages waiting at the end of each slot: the depth now with the later arrivals taken
 * away and the later departures added back.
 */
export function depthBackwards(nowDepth: number, arrived: readonly number[], left: readonly number[]): number[] {
  const out = new Array<number>(arrived.length).fill(0);
  let d = nowDepth;
  for (let i = arrived.length - 1; i >= 0; i--) {
    out[i] = Math.max(0, d);
    d -= arrived[i]! - left[i]!;
  }
  return out;
}

export interface QueueNow {
  pending: number;
  unread: number;
  total: number;
  by_bot: Record<string, { pending: number; unread: number }>;
}

export interface TrafficView {
  step_minutes: number;
  /** Start of each slot (ms). */
  t: number[];
  /** Messages per minute in each slot (a slot of 15 minutes shows its mean rate). */
  per_minute: Record<TrafficCol, number[]>;
  totals: Record<TrafficCol, number>;
  /** Messages waiting (pending delivery or unread) at the end of each slot. */
  queue_depth: number[];
  /** The same per recipient (bots that had traffic in the window or mail waiting). */
  queue_depth_by_bot: Record<string, number[]>;
  queue_now: QueueNow | null;
}

export function trafficView(c: TrafficCounts, f: Frame, queue: QueueNow | null): TrafficView {
  const sums = Object.fromEntries(TRAFFIC.map((k) => [k, rollUp(c.all, f, T[k])])) as Record<TrafficCol, number[]>;
  const totals = Object.fromEntries(TRAFFIC.map((k) => [k, sums[k].reduce((a, b) => a + b, 0)])) as Record<TrafficCol, number>;
  const per_minute = Object.fromEntries(TRAFFIC.map((k) => [k, sums[k].map((v) => round(v / f.step))])) as Record<TrafficCol, number[]>;
  const left = sums.sent.map((_, i) => sums.claimed[i]! + sums.read[i]! + sums.expired[i]! + sums.failed[i]!);
  const byBot: Record<string, number[]> = {};
  for (const bot of [...new Set([...c.byBot.keys(), ...Object.keys(queue?.by_bot ?? {})])].sort()) {
    const q = queue?.by_bot[bot];
    const b = c.byBot.get(bot);
    byBot[bot] = depthBackwards(q ? q.pending + q.unread : 0, rollUp(b, f, 0), rollUp(b, f, 1));
  }
  return {
    step_minutes: f.step,
    t: f.slots.map((m) => m * MINUTE),
    per_minute,
    totals,
    queue_depth: depthBackwards(queue?.total ?? 0, sums.sent, left),
    queue_depth_by_bot: byBot,
    queue_now: queue,
  };
}

// ---------------------------------------------------------------- routing

/** task type -> bot -> minute -> [total, succeeded]. */
export type RoutingCounts = Map<string, Map<string, Counts>>;

export interface OutcomeLine {
  timestamp: string;
  bot_id: string;
  task_type?: string;
  success: boolean;
}

export function foldRouting(r: RoutingCounts, rec: OutcomeLine): void {
  const t = Date.parse(rec.timestamp);
  if (!Number.isFinite(t) || typeof rec.bot_id !== 'string') return;
  const type = typeof rec.task_type === 'string' && rec.task_type ? rec.task_type : 'other';
  let byBot = r.get(type);
  if (!byBot) r.set(type, (byBot = new Map()));
  let c = byBot.get(rec.bot_id);
  if (!c) byBot.set(rec.bot_id, (c = new Map()));
  const m = Math.floor(t / MINUTE);
  bump(c, m, 0, 2);
  if (rec.success !== false) bump(c, m, 1, 2);
}

export function pruneRouting(r: RoutingCounts, minMinute: number): void {
  for (const [type, byBot] of r) {
    for (const [bot, c] of byBot) {
      pruneCounts(c, minMinute);
      if (c.size === 0) byBot.delete(bot);
    }
    if (byBot.size === 0) r.delete(type);
  }
}

export type RateTrend = 'up' | 'down' | 'flat';

export interface RoutingBot {
  bot_id: string;
  tasks: number;
  /** Share of the type's tasks in the window, 0-1. */
  share: number;
  /** Succeeded / done, in %. */
  success_rate: number;
  /** Success rate in the newer half of the window against the older half; null with too few tasks. */
  trend: RateTrend | null;
  /** Tasks done per slot. */
  per_slot: number[];
}

export interface RoutingType {
  task_type: string;
  tasks: number;
  success_rate: number;
  bots: RoutingBot[];
}

export interface RoutingView {
  step_minutes: number;
  t: number[];
  types: RoutingType[];
}

/** Tasks each half of the window needs before a trend is shown. */
export const TREND_MIN_TASKS = 3;
/** Percentage points the success rate must move to count as a trend. */
export const TREND_POINTS = 10;

export function rateTrend(total: readonly number[], ok: readonly number[]): RateTrend | null {
  const h = Math.floor(total.length / 2);
  const sum = (xs: readonly number[], a: number, b: number) => xs.slice(a, b).reduce((x, y) => x + y, 0);
  const n1 = sum(total, 0, h);
  const n2 = sum(total, total.length - h, total.length);
  if (n1 < TREND_MIN_TASKS || n2 < TREND_MIN_TASKS) return null;
  const diff = (sum(ok, total.length - h, total.length) / n2 - sum(ok, 0, h) / n1) * 100;
  return diff >= TREND_POINTS ? 'up' : diff <= -TREND_POINTS ? 'down' : 'flat';
}

export function routingView(r: RoutingCounts, f: Frame): RoutingView {
  const types: RoutingType[] = [];
  for (const [type, byBot] of r) {
    const bots: RoutingBot[] = [];
    for (const [bot, c] of byBot) {
      const total = rollUp(c, f, 0);
      const ok = rollUp(c, f, 1);
      const tasks = total.reduce((a, b) => a + b, 0);
      if (tasks === 0) continue;
      const good = ok.reduce((a, b) => a + b, 0);
      bots.push({ bot_id: bot, tasks, share: 0, success_rate: round((good / tasks) * 100), trend: rateTrend(total, ok), per_slot: total });
    }
    if (bots.length === 0) continue;
    const tasks = bots.reduce((a, b) => a + b.tasks, 0);
    const good = bots.reduce((a, b) => a + (b.success_rate * b.tasks) / 100, 0);
    for (const b of bots) b.share = round(b.tasks / tasks, 3);
    bots.sort((a, b) => b.tasks - a.tasks || (a.bot_id < b.bot_id ? -1 : 1));
    types.push({ task_type: type, tasks, success_rate: round((good / tasks) * 100), bots });
  }
  types.sort((a, b) => b.tasks - a.tasks || (a.task_type < b.task_type ? -1 : 1));
  return { step_minutes: f.step, t: f.slots.map((m) => m * MINUTE), types };
}

// ---------------------------------------------------------------- metric history

export type History = Record<string, Partial<Record<MetricName, [number, number][]>>>;

/** Per-slot values of every metric series and of the derived task metrics: [slot start ms, value]. */
export function historyView(agg: Agg, f: Frame): History {
  const out: History = {};
  for (const [k, s] of Object.entries(agg.series)) {
    const [comp, metric] = k.split('|') as [string, MetricName];
    const n = new Array<number>(f.slots.length).fill(0);
    const sum = new Array<number>(f.slots.length).fill(0);
    for (const b of s.b) {
      const i = slotOf(f, b[0]);
      if (i < 0) continue;
      n[i]! += b[1];
      sum[i]! += b[2];
    }
    const pts = f.slots.flatMap((m, i): [number, number][] => (n[i]! > 0 ? [[m * MINUTE, round(sum[i]! / n[i]!)]] : []));
    if (pts.length) (out[comp] ??= {})[metric] = pts;
  }
  for (const [bot, list] of Object.entries(agg.perf)) {
    const comp = bot === '*' ? 'tasks' : `bot:${bot}`;
    const slots = perfSlots(list, f);
    const er = slots.flatMap((s, i): [number, number][] => (s.total > 0 ? [[f.slots[i]! * MINUTE, round((s.failed / s.total) * 100)]] : []));
    const p95 = slots.flatMap((s, i): [number, number][] => {
      const q = s.total > 0 ? quantile(s.hists, 0.95) : null;
      return q === null ? [] : [[f.slots[i]! * MINUTE, q]];
    });
    if (er.length) (out[comp] ??= {}).error_rate = er;
    if (p95.length) (out[comp] ??= {}).response_time_p95 = p95;
  }
  return out;
}

function perfSlots(list: readonly PerfBucket[], f: Frame): { total: number; failed: number; hists: Record<string, number>[] }[] {
  const out = f.slots.map(() => ({ total: 0, failed: 0, hists: [] as Record<string, number>[] }));
  for (const b of list) {
    const i = slotOf(f, b[0]);
    if (i < 0) continue;
    out[i]!.total += b[1];
    out[i]!.failed += b[2];
    out[i]!.hists.push(b[3]);
  }
  return out;
}

function round(v: number, digits = 2): number {
  const p = Math.pow(10, digits);
  return Math.round(v * p) / p;
}
