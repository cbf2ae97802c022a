import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module shared with bench/routing.mjs
import { runAll } from '../bench/routing-sim.mjs';
import * as lib from '../bench/routing-entry.js';

describe('routing regret on the production path (small run of the benchmark)', () => {
  it('deia beats random everywhere on 2 environments and states a confidence that is never certainty', () => {
    const res = runAll(lib, { envs: 2, tasks: 1500, scenarios: ['S0', 'S1', 'S3', 'COLD', 'TIED'], policies: ['random', 'greedy', 'deia'] });
    const total = (p: string) => Object.values(res).reduce((a: number, s: any) => a + s[p].regret.mean, 0);
    expect(total('deia')).toBeLessThan(total('random'));
    expect(total('deia')).toBeLessThan(total('random') / 3);
    for (const s of Object.values(res) as any[]) {
      expect(s.deia.regret.mean).toBeLessThan(s.random.regret.mean);
      // Confidence is stated and never certainty.
      expect(s.deia.brier.mean).toBeGreaterThan(0);
      expect(s.deia.reliability.at(-1).mean_confidence ?? 0).toBeLessThan(1);
    }
  }, 120_000);
});
