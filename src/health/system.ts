/**
 * Measuring this machine (the `system` component): cpu busy % over a short sample and
 * memory in use %. Behind an injectable function so tests decide what the machine says.
 */
import os from 'node:os';

export interface SystemSample {
  cpu: number | null;
  memory: number | null;
}

export type SystemSampler = (sampleMs: number) => Promise<SystemSample>;

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export const osSampler: SystemSampler = async (sampleMs) => {
  const totalMem = os.totalmem();
  const memory = totalMem > 0 ? ((totalMem - os.freemem()) / totalMem) * 100 : null;
  let cpu: number | null = null;
  if (sampleMs > 0) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, sampleMs));
    const b = cpuTimes();
    const dt = b.total - a.total;
    cpu = dt > 0 ? Math.min(100, Math.max(0, (1 - (b.idle - a.idle) / dt) * 100)) : null;
  } else {
    // No sample time: the 1-minute load average per cpu, as a percent.
    const n = os.cpus().length || 1;
    cpu = Math.min(100, (os.loadavg()[0]! / n) * 100);
  }
  return { cpu, memory };
};

let current: SystemSampler = osSampler;

/** Replace the machine sampler (tests); returns the previous one. */
export function setSystemSampler(s: SystemSampler): SystemSampler {
  const prev = current;
  current = s;
  return prev;
}

export function sampleSystem(sampleMs: number): Promise<SystemSample> {
  return current(sampleMs);
}
