import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { machineSampler, type MachineSource } from '../src/health/system.js';
import { deia, tempHive } from './helpers/cli.js';

const loadPercent = () => Math.min(100, (os.loadavg()[0]! / os.cpus().length) * 100);

describe('deia health: the system cpu of a one-shot check', () => {
  it('is the load average per cpu, not an instant of its own start-up', () => {
    const { dir } = tempHive('deia-sys-');
    expect(deia(['init'], { dir }).code).toBe(0);
    for (let i = 0; i < 4; i++) {
      const before = loadPercent();
      const r = deia(['health', '--json'], { dir });
      const after = loadPercent();
      const system = JSON.parse(r.stdout).components.find((c: { name: string }) => c.name === 'system');
      const cpu = system.metrics.find((m: { metric: string }) => m.metric === 'cpu');
      expect(cpu.source).toBe('measured');
      // The kernel refreshes the load average every 5 s: the check read it between our two reads.
      expect(cpu.value).toBeGreaterThanOrEqual(Math.min(before, after) - 0.01);
      expect(cpu.value).toBeLessThanOrEqual(Math.max(before, after) + 0.01);
    }
  });
});

describe('machineSampler', () => {
  /** Two cpus; `busyDuring` ms of busy time appear on the machine while the sampler sleeps. */
  function fake(busyDuring: number, ownDuring: number): MachineSource {
    let busy = 0;
    let idle = 0;
    let own = 0;
    return {
      cpus: () => [0, 1].map(() => ({ times: { user: busy / 2, nice: 0, sys: 0, idle: idle / 2, irq: 0 } })),
      loadavg: () => [1.5, 1, 1],
      totalmem: () => 1000,
      freemem: () => 250,
      ownCpuMicros: () => own * 1000,
      sleep: async (ms) => {
        busy += busyDuring;
        idle += 2 * ms - busyDuring;
        own += ownDuring;
      },
    };
  }

  it('reads the load average per cpu when no window is configured', async () => {
    expect(await machineSampler(fake(0, 0))(0)).toEqual({ cpu: 75, memory: 75 });
  });

  it("leaves out its own cpu time from a measured window", async () => {
    // 1000 ms on 2 cpus = 2000 ms of cpu; 600 busy, of which 400 were deia's own: 10%.
    expect((await machineSampler(fake(600, 400))(1000)).cpu).toBeCloseTo(10);
    expect((await machineSampler(fake(600, 0))(1000)).cpu).toBeCloseTo(30);
  });
});
