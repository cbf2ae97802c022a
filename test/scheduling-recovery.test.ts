import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import { decide, emptyState, foldOutcome, paramsFromConfig, type SchedState } from '../src/scheduling/policy.js';
import { mulberry32 } from '../src/scheduling/random.js';

// Issue 14.2, 14.4, 14.5: the policy on its defaults, one task a minute, outcomes folded at once.
const P = paramsFromConfig(defaultConfig().scheduling);
const MIN = 60_000;
const BOTS = ['STAR', 'B', 'C', 'D', 'E'];

/** Run `n` tasks from task `t0` on success probabilities `prob(t, i)`; returns the picks (bot indexes). */
function run(s: SchedState, t0: number, n: number, prob: (t: number, i: number) => number, seed: number): number[] {
  const r = mulberry32(seed);
  const picks: number[] = [];
  for (let t = t0; t < t0 + n; t++) {
    const rec = decide(s, 'code', BOTS, {}, P, r, t * MIN, { confidence: false });
    const i = BOTS.indexOf(rec.recommended_bot!);
    picks.push(i);
    foldOutcome(s, { bot: BOTS[i]!, type: 'code', success: r() < prob(t, i), at: t * MIN }, P);
  }
  return picks;
}

const base = [0.9, 0.6, 0.55, 0.5, 0.45];

describe('recovery after long outages (14.2)', () => {
  for (const outage of [100, 300, 1000]) {
    it(`a star bot out for ${outage} tasks is found again within 300 tasks of recovering, in every run`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const s = emptyState();
        const prob = (t: number, i: number) => (i === 0 && t >= 500 && t < 500 + outage ? 0.05 : base[i]!);
        run(s, 0, 500 + outage, prob, seed);
        const after = run(s, 500 + outage, 600, prob, seed + 100);
        // Found again: the star has half of some 20 consecutive picks within 300 tasks.
        let found = -1;
        for (let t = 20; t <= 300 && found < 0; t++) if (after.slice(t - 20, t).filter((i) => i === 0).length >= 10) found = t;
        expect(found, `seed ${seed}`).toBeGreaterThan(0);
        // And it keeps the work afterwards.
        expect(after.slice(400).filter((i) => i === 0).length / 200).toBeGreaterThan(0.7);
      }
    });
  }
});

describe('honest confidence (14.5)', () => {
  it('is 0 with no evidence, below 1 with one eligible bot, and below 1 with a single candidate', () => {
    expect(decide(emptyState(), 'code', ['A'], {}, P, mulberry32(1), 0).confidence).toBe(0);
    const s = emptyState();
    for (let t = 0; t < 200; t++) {
      foldOutcome(s, { bot: 'A', type: 'code', success: t % 10 !== 0, at: t * MIN }, P);
      foldOutcome(s, { bot: 'B', type: 'code', success: t % 2 === 0, at: t * MIN }, P);
    }
    // Only one candidate at all: still not certainty.
    const alone = decide(s, 'code', ['A'], {}, P, mulberry32(1), 200 * MIN);
    expect(alone.confidence).toBeGreaterThan(0.9);
    expect(alone.confidence).toBeLessThan(1);
    // One eligible bot (A is CRITICAL): confidence is over all candidates, and B is not the best.
    const oneEligible = decide(s, 'code', ['A', 'B', 'NEW'], { health: { A: 'CRITICAL' } }, P, mulberry32(1), 200 * MIN);
    expect(oneEligible.recommended_bot).not.toBe('A');
    expect(oneEligible.confidence).toBeLessThan(0.5);
    // A bot with no outcomes recommended among others is never certain either.
    const fresh = decide(s, 'code', ['NEW'], {}, P, mulberry32(1), 200 * MIN);
    expect(fresh.confidence).toBeLessThan(1);
  });
});

describe('two tied bots share the work (14.4)', () => {
  it('neither tied bot takes 90 % of their picks or runs 500 tasks in a row', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const s = emptyState();
      const picks = run(s, 0, 3000, (_t, i) => (i < 2 ? 0.8 : [0, 0, 0.5, 0.45, 0.4][i]!), seed);
      const tied = picks.filter((i) => i < 2);
      const share = Math.min(tied.filter((i) => i === 0).length, tied.filter((i) => i === 1).length) / tied.length;
      expect(share, `seed ${seed}`).toBeGreaterThan(0.1);
      let longest = 0;
      let cur = 0;
      for (let k = 0; k < tied.length; k++) {
        cur = k > 0 && tied[k] === tied[k - 1] ? cur + 1 : 1;
        longest = Math.max(longest, cur);
      }
      expect(longest, `seed ${seed}`).toBeLessThan(500);
      // And the tied pair gets most of the work.
      expect(tied.length / picks.length).toBeGreaterThan(0.85);
    }
  });
});
