/**
 * Measuring this machine (the `system` component): cpu busy % and memory in use %.
 * Behind an injectable function so tests decide what the machine says.
 *
 * Why the cpu is the 1-minute load average by default (health.cpu_sample_ms = 0):
 * a one-shot `deia health` lives for a fraction of a second, and the machine's cpu over
 * that fraction is mostly the check's own start-up and whatever happened to run in the same
 * instant: it read 100% (CRITICAL) on a quiet machine. The load average is what monitoring
 * checks (`uptime`, check_load) read: the kernel averages it over a minute, so neither our
 * own start-up nor a momentary spike moves it, and reading it costs nothing. Fresh samples
 * recorded with `deia health record cpu …` (an agent that watches longer) still win over it.
 * An operator who wants a measured window sets cpu_sample_ms (e.g. 2000); the sample then
 * leaves out the cpu time this process itself spent, so looking does not raise the value.
 */
import os from 'node:os';

export interface SystemSample {
  cpu: number | null;
  memory: number | null;
}

export type SystemSampler = (sampleMs: number) => Promise<SystemSample>;

/** What the sampler reads from the machine (node:os and process by default; fakes in tests). */
export interface MachineSource {
  cpus(): Array<{ times: { user: number; nice: number; sys: number; idle: number; irq: number } }>;
  loadavg(): number[];
  totalmem(): number;
  freemem(): number;
  /** This process's own cpu time, in microseconds (process.cpuUsage). */
  ownCpuMicros(): number;
  sleep(ms: number): Promise<void>;
}

const nodeSource: MachineSource = {
  cpus: () => os.cpus(),
  loadavg: () => os.loadavg(),
  totalmem: () => os.totalmem(),
  freemem: () => os.freemem(),
  ownCpuMicros: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Busy and total cpu time summed over every cpu, in ms. */
function cpuTimes(src: MachineSource): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times: t } of src.cpus()) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { busy, total };
}

const clampPercent = (x: number) => Math.min(100, Math.max(0, x));

/** The 1-minute load average per cpu, as a percent (a load of 2 on 2 cpus is 100%). */
function loadPercent(src: MachineSource): number | null {
  const n = src.cpus().length || 1;
  const load = src.loadavg()[0];
  return typeof load === 'number' && Number.isFinite(load) ? clampPercent((load / n) * 100) : null;
}

/** Cpu busy % over `sampleMs`, not counting the cpu time this process spent meanwhile. */
async function windowPercent(src: MachineSource, sampleMs: number): Promise<number | null> {
  const a = cpuTimes(src);
  const ownA = src.ownCpuMicros();
  await src.sleep(sampleMs);
  const b = cpuTimes(src);
  const own = (src.ownCpuMicros() - ownA) / 1000;
  const dt = b.total - a.total;
  if (dt <= 0) return null;
  return clampPercent(((b.busy - a.busy - own) / dt) * 100);
}

export function machineSampler(src: MachineSource): SystemSampler {
  return async (sampleMs) => {
    const totalMem = src.totalmem();
    const memory = totalMem > 0 ? ((totalMem - src.freemem()) / totalMem) * 100 : null;
    const cpu = sampleMs > 0 ? await windowPercent(src, sampleMs) : loadPercent(src);
    return { cpu, memory };
  };
}

export const osSampler: SystemSampler = machineSampler(nodeSource);

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
