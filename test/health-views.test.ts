import { describe, expect, it } from 'vitest';
import { evenCeil, niceCeil, xTicks } from '../src/health/charts.js';
import {
  depthBackwards,
  emptyTraffic,
  foldRouting,
  foldTraffic,
  frameOf,
  parseWindow,
  rateTrend,
  routingView,
  trafficView,
  type RoutingCounts,
} from '../src/health/views.js';

const T0 = Date.parse('2026-11-28T12:00:00Z');
const at = (min: number, sec = 0) => new Date(T0 + min * 60_000 + sec * 1000).toISOString();

describe('dashboard views (pure)', () => {
  it('windows: 15m and 1h in minutes, 24h in 15-minute slots; anything else is a usage error', () => {
    expect(frameOf('15m', T0 + 30_000).slots).toHaveLength(15);
    const day = frameOf('24h', T0 + 7 * 60_000);
    expect(day.slots).toHaveLength(96);
    expect(day.to - day.from).toBe(24 * 3_600_000);
    expect(day.to).toBe(T0 + 15 * 60_000); // the last slot holds now
    expect(parseWindow(undefined)).toBe('1h');
    expect(() => parseWindow('2h')).toThrow('unknown window "2h"');
  });

  it('traffic counts sent, claimed and expired per minute and rebuilds the queue depth backwards from now', () => {
    const c = emptyTraffic();
    const ev = (min: number, event: string, claimed = false) =>
      foldTraffic(c, { timestamp: at(min, 5), event, to_bot: 'B', details: claimed ? { claimed: true } : null });
    for (let i = 0; i < 4; i++) ev(0, 'message_queued');
    ev(1, 'message_read', true);
    ev(1, 'message_read');
    ev(2, 'message_expired');
    ev(2, 'message_retry'); // not traffic
    const v = trafficView(c, frameOf('15m', T0 + 2 * 60_000), { pending: 0, unread: 1, total: 1, by_bot: { B: { pending: 0, unread: 1 } } });
    expect(v.totals).toEqual({ sent: 4, claimed: 1, read: 1, expired: 1, failed: 0 });
    expect(v.per_minute.sent.slice(-3)).toEqual([4, 0, 0]);
    expect(v.queue_depth.slice(-4)).toEqual([0, 4, 2, 1]);
    expect(v.queue_depth_by_bot.B!.slice(-4)).toEqual([0, 4, 2, 1]);
    expect(depthBackwards(0, [1, 0], [0, 5])).toEqual([5, 0]); // never below zero
  });

  it('routing: share, success rate and trend per bot and task type, most work first', () => {
    const r: RoutingCounts = new Map();
    for (let m = 0; m < 15; m++) {
      foldRouting(r, { timestamp: at(m), bot_id: 'A', task_type: 'code', success: m >= 7 });
      foldRouting(r, { timestamp: at(m, 10), bot_id: 'A', task_type: 'code', success: true });
      foldRouting(r, { timestamp: at(m), bot_id: 'B', task_type: 'code', success: m < 7 });
    }
    const v = routingView(r, frameOf('15m', T0 + 14 * 60_000));
    const code = v.types[0]!;
    expect(code).toMatchObject({ task_type: 'code', tasks: 45 });
    expect(code.bots.map((b) => [b.bot_id, b.tasks, b.share, b.success_rate, b.trend])).toEqual([
      ['A', 30, 0.667, 76.67, 'up'],
      ['B', 15, 0.333, 46.67, 'down'],
    ]);
    expect(rateTrend([1, 1, 1, 1], [1, 1, 1, 1])).toBeNull(); // too few tasks to say
  });

  it('chart scales and ticks', () => {
    expect([0.3, 1, 3, 7, 24, 60].map(niceCeil)).toEqual([0.5, 1, 5, 10, 25, 100]);
    expect([1, 3, 24, 36, 55].map(evenCeil)).toEqual([2, 4, 30, 40, 60]);
    const ticks = xTicks({ window: '1h', from: T0 - 3_600_000 + 60_000, to: T0 + 60_000 });
    for (const t of ticks) expect(new Date(t).getMinutes() % 15).toBe(0); // round local quarter hours
    expect(ticks.length).toBe(4);
  });
});
