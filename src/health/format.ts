/** Pure formatting of a health report: nagios plugin line, Prometheus text 0.0.4, sparklines. */
import { levelNumber, type ComponentReport, type HealthReport, type MetricLine } from './rules.js';

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(Math.round(v * 1000) / 1000);
}

const NAGIOS_UOM: Record<string, string> = { '%': '%', ms: 'ms' };

function nagiosLabel(s: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(s) ? s : `'${s.replace(/'/g, "''")}'`;
}

/**
 * The one-line monitoring-plugin output:
 * `DEIA HEALTH DEGRADED - <problems> | 'label'=value[UOM];warn;crit;min;max …`.
 */
export function nagiosLine(report: HealthReport): string {
  const all = [...report.components, ...report.bots];
  const problems: string[] = [];
  for (const c of all) {
    if (c.level !== 'DEGRADED' && c.level !== 'CRITICAL') continue;
    const why = c.metrics
      .filter((m) => m.level === 'DEGRADED' || m.level === 'CRITICAL')
      .map((m) => `${m.metric}=${num(m.value!)}${m.unit === '%' ? '%' : m.unit === 'ms' ? 'ms' : ''}`);
    if (c.stale) why.unshift('stale');
    problems.push(`${c.component} ${c.level} (${why.join(', ')})`);
  }
  const text =
    problems.length > 0
      ? problems.join('; ')
      : report.level === 'UNKNOWN'
        ? 'no metric has data'
        : `${all.filter((c) => c.level !== 'UNKNOWN').length} components and bots healthy`;
  const perf: string[] = [];
  for (const c of all) {
    for (const m of c.metrics) {
      if (m.value === null) continue;
      const uom = NAGIOS_UOM[m.unit] ?? '';
      const max = m.unit === '%' ? '100' : '';
      const label = nagiosLabel(c.kind === 'bot' ? `${c.name}_${m.metric}` : `${c.component}_${m.metric}`);
      perf.push(`${label}=${num(m.value)}${uom};${m.warn === null ? '' : num(m.warn)};${num(m.critical)};0;${max}`);
    }
  }
  return `DEIA HEALTH ${report.level} - ${text.replace(/\|/g, '/')}${perf.length ? ` | ${perf.join(' ')}` : ''}`;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(c: ComponentReport, extra: Record<string, string> = {}): string {
  const l: Record<string, string> = { component: c.kind === 'bot' ? 'bot' : c.component, bot: c.bot_id ?? '', ...extra };
  return `{${Object.entries(l)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(',')}}`;
}

/** Prometheus text exposition format 0.0.4: HELP and TYPE once per family, then the samples. */
export function prometheusText(report: HealthReport): string {
  const all = [...report.components, ...report.bots];
  const out: string[] = [];
  const family = (name: string, help: string, samples: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples);
  };
  family('deia_health_status', 'Overall health level: 0 healthy, 1 degraded, 2 critical, 3 unknown.', [
    `deia_health_status ${levelNumber(report.level)}`,
  ]);
  family(
    'deia_component_status',
    'Level per component or bot: 0 healthy, 1 degraded, 2 critical, 3 unknown.',
    all.map((c) => `deia_component_status${labels(c)} ${levelNumber(c.level)}`),
  );
  const withData = (f: (c: ComponentReport, m: MetricLine) => string | null) =>
    all.flatMap((c) => c.metrics.filter((m) => m.value !== null).map((m) => f(c, m))).filter((s): s is string => s !== null);
  family(
    'deia_metric_value',
    'Latest value of a health metric (unit in the metric description of `deia health`).',
    withData((c, m) => `deia_metric_value${labels(c, { metric: m.metric })} ${num(m.value!)}`),
  );
  family(
    'deia_metric_status',
    'Level of a health metric: 0 healthy, 1 degraded, 2 critical.',
    withData((c, m) => `deia_metric_status${labels(c, { metric: m.metric })} ${levelNumber(m.level)}`),
  );
  family(
    'deia_metric_threshold',
    'Threshold of a health metric by level (warn, critical).',
    withData((c, m) =>
      [
        m.warn === null ? null : `deia_metric_threshold${labels(c, { metric: m.metric, level: 'warn' })} ${num(m.warn)}`,
        `deia_metric_threshold${labels(c, { metric: m.metric, level: 'critical' })} ${num(m.critical)}`,
      ]
        .filter(Boolean)
        .join('\n'),
    ),
  );
  family(
    'deia_bot_stale',
    '1 when a bot has reported nothing for longer than the staleness limit.',
    report.bots.map((b) => `deia_bot_stale${labels(b)} ${b.stale ? 1 : 0}`),
  );
  return out.join('\n') + '\n';
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line chart of the values (null = gap). */
export function sparkline(values: readonly (number | null)[]): string {
  const xs = values.filter((v): v is number => v !== null);
  if (xs.length === 0) return '';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return values
    .map((v) => (v === null ? ' ' : BARS[hi === lo ? 3 : Math.min(7, Math.floor(((v - lo) / (hi - lo)) * 8))]))
    .join('');
}

export const TREND_ARROW: Record<string, string> = { up: '↑', down: '↓', flat: '→' };
