import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module shared with bench/routing.mjs
import { runAll } from '../bench/routing-sim.mjs';
import * as policy from '../src/scheduling/policy.js';
import * as random from '../src/scheduling/random.js';
import { schedulingSection } from '../src/scheduling/config.js';
import { defaultsOf } from '../src/config/schema.js';

describe('routing regret (small run of the benchmark)', () => {
  it('deia beats random and greedy on 2 environments × 1,000 tasks', () => {
    const lib = { ...policy, ...random, schedulingSection, defaultsOf };
    const res = runAll(lib, { envs: 2, tasks: 1000, policies: ['random', 'greedy', 'deia'] });
    const total = (p: string) => Object.values(res).reduce((a: number, s: any) => a + s[p].regret.mean, 0);
    expect(total('deia')).toBeLessThan(total('random'));
    expect(total('deia')).toBeLessThan(total('greedy'));
    for (const s of Object.values(res) as any[]) expect(s.deia.regret.mean).toBeLessThan(s.random.regret.mean);
  });
});
