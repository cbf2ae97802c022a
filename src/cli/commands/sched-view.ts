// Rendering helpers shared by the routing commands (recommend, stats).
import type { Run } from '../command.js';
import type { Trend } from '../../scheduling/policy.js';

export function durationText(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

export function pct(x: number | null): string {
  return x === null ? '-' : `${Math.round(x * 100)}%`;
}

export function rateCell(rate: number | null, interval: [number, number]): string {
  return rate === null ? '-' : `${pct(rate)} [${pct(interval[0])}-${pct(interval[1])}]`;
}

export function trendCell(run: Run, t: Trend) {
  const { out } = run;
  if (t === 'improving') return out.paint('improving', out.c.green);
  if (t === 'declining') return out.paint('declining', out.c.yellow);
  return 'stable';
}
