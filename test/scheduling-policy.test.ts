import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import { UsageError } from '../src/common/errors.js';
import { parseDuration, parseOutcomeLines, toRecord } from '../src/scheduling/input.js';
import { decide, emptyState, foldOutcome, paramsFromConfig, statsRows, weighAt, type PolicyEvent, type SchedState } from '../src/scheduling/policy.js';
import { beta, mulberry32 } from '../src/scheduling/random.js';
import { normalizeTaskType, TASK_TYPES } from '../src/scheduling/types.js';

const P = paramsFromConfig(defaultConfig().scheduling);
const MIN = 60_000;
const HOUR = 60 * MIN;

function feed(state: SchedState, bot: string, type: string, results: boolean[], start: number, step = MIN, events?: PolicyEvent[]) {
  let t = start;
  for (const ok of results) {
    foldOutcome(state, { bot, type, success: ok, at: t }, P, events);
    t += step;
  }
  return t;
}
const times = (n: number, v: boolean) => Array.from({ length: n }, () => v);

describe('routing policy (pure)', () => {
  it('mulberry32 is exact and beta draws stay in (0, 1) with the right mean', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    for (let i = 0; i < 5; i++) expect(a()).toBe(b());
    const r = mulberry32(7);
    let sum = 0;
    for (let i = 0; i < 4000; i++) {
      const x = beta(8, 2, r);
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(1);
      sum += x;
    }
    expect(sum / 4000).toBeCloseTo(0.8, 1);
  });

  it('outcomes change decisions: after 20 failures of the top bot the recommendation moves', () => {
    const s = emptyState();
    let t = feed(s, 'A', 'code', times(30, true), 0);
    t = feed(s, 'B', 'code', [...times(10, true), false, false], t);
    const r = mulberry32(1);
    expect(decide(s, 'code', ['A', 'B'], {}, P, r, t, { greedy: true }).recommended_bot).toBe('A');
    t = feed(s, 'A', 'code', times(20, false), t);
    const after = decide(s, 'code', ['A', 'B'], {}, P, r, t, { greedy: true });
    expect(after.recommended_bot).toBe('B');
    // And Thompson sampling agrees almost always.
    let b = 0;
    for (let i = 0; i < 50; i++) if (decide(s, 'code', ['A', 'B'], {}, P, r, t).recommended_bot === 'B') b++;
    expect(b).toBeGreaterThanOrEqual(40);
  });

  it('old outcomes weigh less than new ones by the configured half-life', () => {
    const s = emptyState();
    foldOutcome(s, { bot: 'A', type: 'code', success: true, at: 0 }, P);
    const agg = s.types.get('code')!.aggs.get('A')!;
    expect(weighAt(agg.long, P.longHalfLifeMs, P.longHalfLifeMs).s).toBeCloseTo(0.5, 10);
    expect(weighAt(agg.long, 2 * P.longHalfLifeMs, P.longHalfLifeMs).s).toBeCloseTo(0.25, 10);
    expect(weighAt(agg.short, P.shortHalfLifeMs, P.shortHalfLifeMs).s).toBeCloseTo(0.5, 10);
    // Adding a new outcome one half-life later: the old one counts half.
    foldOutcome(s, { bot: 'A', type: 'code', success: false, at: P.longHalfLifeMs }, P);
    expect(agg.long.s).toBeCloseTo(0.5, 10);
    expect(agg.long.f).toBeCloseTo(1, 10);
    // An outcome arriving late (older than the view) is added already discounted.
    foldOutcome(s, { bot: 'A', type: 'code', success: true, at: 0 }, P);
    expect(agg.long.s).toBeCloseTo(1, 10);
  });

  it('confidence is in [0, 1] and near 1 when one bot is clearly best with many samples', () => {
    const s = emptyState();
    let t = 0;
    for (let i = 0; i < 500; i++) {
      t = feed(s, 'A', 'analysis', [i % 10 !== 0], t, 1000);
      t = feed(s, 'B', 'analysis', [i % 2 === 0], t, 1000);
    }
    const rec = decide(s, 'analysis', ['A', 'B'], {}, P, mulberry32(3), t, { greedy: true });
    expect(rec.recommended_bot).toBe('A');
    expect(rec.confidence).toBeGreaterThanOrEqual(0.95);
    expect(rec.confidence).toBeLessThanOrEqual(1);
    for (let seed = 0; seed < 20; seed++) {
      const r = decide(s, 'analysis', ['A', 'B', 'C'], {}, P, mulberry32(seed), t);
      expect(r.confidence).toBeGreaterThanOrEqual(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
    }
  });

  it('the same seed gives the same recommendation', () => {
    const s = emptyState();
    const t = feed(s, 'A', 'code', [true, false, true], 0);
    feed(s, 'B', 'code', [true, true, false], t);
    const a = decide(s, 'code', ['A', 'B', 'C'], {}, P, mulberry32(9), t + MIN);
    const b = decide(s, 'code', ['A', 'B', 'C'], {}, P, mulberry32(9), t + MIN);
    expect(a).toEqual(b);
  });

  it('with no data at all: some bot, confidence 0, reason "no data"', () => {
    const rec = decide(emptyState(), 'planning', ['A', 'B'], {}, P, mulberry32(1), 0);
    expect(['A', 'B']).toContain(rec.recommended_bot);
    expect(rec.confidence).toBe(0);
    expect(rec.candidate_bots[0]!.reasons).toContain('no data');
    expect(decide(emptyState(), 'planning', [], {}, P, mulberry32(1), 0).recommended_bot).toBeNull();
  });

  it('detects a decline once, trusts the recent outcomes, and makes the others worth trying again', () => {
    const s = emptyState();
    const ev: PolicyEvent[] = [];
    let t = feed(s, 'A', 'code', Array.from({ length: 400 }, (_, i) => i % 10 !== 0), 0, MIN, ev);
    t = feed(s, 'B', 'code', Array.from({ length: 100 }, (_, i) => i % 10 < 6), t, MIN, ev);
    expect(ev.filter((e) => e.event === 'trend_detected')).toHaveLength(0);
    t = feed(s, 'A', 'code', times(30, false), t, MIN, ev);
    const trends = ev.filter((e) => e.event === 'trend_detected');
    expect(trends).toHaveLength(1);
    expect(trends[0]).toMatchObject({ bot_id: 'A', task_type: 'code', trend: 'declining' });
    const rec = decide(s, 'code', ['A', 'B'], {}, P, mulberry32(1), t, { greedy: true });
    expect(rec.recommended_bot).toBe('B');
    expect(rec.candidate_bots.find((c) => c.bot_id === 'A')!.trend).toBe('declining');
    // B kept its mean but not its certainty.
    const b = s.types.get('code')!.aggs.get('B')!;
    const w = weighAt(b.long, t, P.longHalfLifeMs);
    expect(w.s + w.f).toBeLessThanOrEqual(P.resetCap + 1e-9);
    expect(w.s / (w.s + w.f)).toBeCloseTo(0.6, 1);
    // The trend is shown for trend_hold_hours, then the bot is stable again.
    expect(statsRows(s, P, t + P.trendHoldMs + HOUR).find((r) => r.bot_id === 'A')!.trend).toBe('stable');
  });

  it('does not cry wolf on a stationary bot', () => {
    const s = emptyState();
    const ev: PolicyEvent[] = [];
    const r = mulberry32(5);
    feed(s, 'A', 'code', Array.from({ length: 3000 }, () => r() < 0.7), 0, MIN, ev);
    expect(ev.filter((e) => e.event === 'trend_detected').length).toBeLessThanOrEqual(3);
  });

  it('excludes CRITICAL bots, penalises DEGRADED ones, says why, and shows load without weighing it', () => {
    const s = emptyState();
    let t = feed(s, 'A', 'code', times(50, true), 0);
    t = feed(s, 'B', 'code', times(50, true), t);
    t = feed(s, 'C', 'code', times(50, true), t);
    const rec = decide(
      s,
      'code',
      ['A', 'B', 'C'],
      { health: { A: 'CRITICAL', B: 'DEGRADED', C: 'HEALTHY' }, urgentUnread: { C: 12 }, inProgress: { C: 10 } },
      P,
      mulberry32(1),
      t,
      { greedy: true },
    );
    const by = Object.fromEntries(rec.candidate_bots.map((c) => [c.bot_id, c]));
    expect(by.A!.excluded).toBe(true);
    expect(by.A!.reasons).toContain('critical health: excluded');
    expect(rec.candidate_bots.at(-1)!.bot_id).toBe('A');
    expect(by.B!.reasons.some((r) => r.startsWith('degraded health: penalty'))).toBe(true);
    expect(by.C!.load).toBe(22);
    expect(by.C!.reasons.some((r) => /load/.test(r))).toBe(false);
    expect(by.C!.score).toBeCloseTo(by.A!.score, 2);
    expect(by.B!.score).toBeLessThan(by.C!.score);
    expect(rec.recommended_bot).toBe('C');
  });

  it('when every candidate is CRITICAL, recommends the least bad one with lowered confidence', () => {
    const s = emptyState();
    let t = feed(s, 'A', 'code', [...times(40, true), ...times(10, false)], 0);
    t = feed(s, 'B', 'code', [...times(10, true), ...times(40, false)], t);
    t = feed(s, 'C', 'code', [...times(25, true), ...times(25, false)], t);
    const health = { A: 'CRITICAL', B: 'CRITICAL', C: 'CRITICAL' } as const;
    const greedy = decide(s, 'code', ['A', 'B', 'C'], { health }, P, mulberry32(1), t, { greedy: true });
    expect(greedy.recommended_bot).toBe('A');
    const top = greedy.candidate_bots[0]!;
    expect(top.bot_id).toBe('A');
    expect(top.excluded).toBe(false);
    expect(top.reasons).toContain('all candidates critical: least bad');
    expect(top.reasons).toContain('critical health');
    expect(greedy.candidate_bots.slice(1).every((c) => c.excluded && c.reasons.includes('critical health: excluded'))).toBe(true);
    // Confidence is lowered: the same posteriors with healthy bots give twice as much.
    const healthy = decide(s, 'code', ['A', 'B', 'C'], {}, P, mulberry32(1), t, { greedy: true });
    expect(healthy.recommended_bot).toBe('A');
    expect(healthy.confidence).toBeGreaterThan(0.9);
    expect(greedy.confidence).toBeGreaterThan(0);
    expect(greedy.confidence).toBeLessThanOrEqual(0.5);
    // Thompson sampling also answers, and only with a critical bot of the list.
    const ts = decide(s, 'code', ['A', 'B', 'C'], { health }, P, mulberry32(2), t);
    expect(ts.recommended_bot).toBe('A');
    // Bots left out of the list (--exclude) stay out, even when the rest are all CRITICAL.
    const without = decide(s, 'code', ['B', 'C'], { health }, P, mulberry32(1), t, { greedy: true });
    expect(without.recommended_bot).toBe('C');
    expect(without.candidate_bots.map((c) => c.bot_id)).not.toContain('A');
    // One healthy bot left: the critical ones stay excluded.
    const one = decide(s, 'code', ['A', 'B', 'C'], { health: { ...health, B: 'HEALTHY' } }, P, mulberry32(1), t, { greedy: true });
    expect(one.recommended_bot).toBe('B');
    expect(one.candidate_bots.flatMap((c) => c.reasons)).not.toContain('all candidates critical: least bad');
  });

  it('scores faster and cheaper bots higher when success is equal', () => {
    const s = emptyState();
    for (let i = 0; i < 20; i++) {
      foldOutcome(s, { bot: 'fast', type: 'code', success: true, at: i, durationMs: 1000, tokens: 100 }, P);
      foldOutcome(s, { bot: 'slow', type: 'code', success: true, at: i, durationMs: 10_000, tokens: 1000 }, P);
    }
    const rec = decide(s, 'code', ['fast', 'slow'], {}, P, mulberry32(1), 100, { greedy: true });
    expect(rec.recommended_bot).toBe('fast');
    expect(rec.candidate_bots[0]!.median_duration_ms).toBe(1000);
    expect(rec.candidate_bots[0]!.mean_tokens).toBe(100);
  });
});

describe('routing input', () => {
  it('accepts any type name that passes the id rules, maps aliases, and rejects the rest with the rules', () => {
    expect(TASK_TYPES).toHaveLength(7);
    expect(normalizeTaskType('development')).toBe('code');
    expect(normalizeTaskType('validation')).toBe('testing');
    expect(normalizeTaskType('docs')).toBe('documentation');
    expect(normalizeTaskType('General')).toBe('other');
    expect(normalizeTaskType('Deploy')).toBe('deploy');
    expect(normalizeTaskType('db-migration')).toBe('db-migration');
    for (const bad of ['../x', 'a b', '', '-x', 'x'.repeat(65)]) {
      expect(() => normalizeTaskType(bad)).toThrow(UsageError);
      try {
        normalizeTaskType(bad);
      } catch (e) {
        expect((e as UsageError).hint).toMatch(/letters, digits/);
      }
    }
  });

  it('parses durations and rejects bad ones', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250')).toBe(250);
    expect(() => parseDuration('-1s')).toThrow(UsageError);
    expect(() => parseDuration('soon')).toThrow(UsageError);
  });

  it('validates outcomes before anything is written', () => {
    expect(toRecord({ bot: 'B1', type: 'docs', success: true, durationMs: 10, tokens: 5, taskId: 'T-1' }, 0)).toEqual({
      timestamp: '1970-01-01T00:00:00.000Z',
      bot_id: 'B1',
      task_type: 'documentation',
      success: true,
      duration_ms: 10,
      tokens: 5,
      task_id: 'T-1',
    });
    expect(() => toRecord({ bot: '../x', type: 'code', success: true }, 0)).toThrow(UsageError);
    expect(() => toRecord({ bot: 'B', type: 'code', success: true, tokens: 1.5 }, 0)).toThrow(UsageError);
    expect(() => toRecord({ bot: 'B', type: 'code', success: true, durationMs: -1 }, 0)).toThrow(UsageError);
    expect(() => parseOutcomeLines('{"bot":"B","type":"code","success":true}\n{"bot":"B","type":"no pe","success":true}')).toThrow(/stdin line 2/);
    expect(parseOutcomeLines('{"bot_id":"B","task_type":"code","success":false,"duration":"2s"}\n\n')).toHaveLength(1);
  });
});
