import { defineCommand } from '../command.js';
import type { Output } from '../output.js';
import type { HealthReport, Level } from '../../health/rules.js';

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function levelPaint(out: Output, level: Level) {
  const c = out.c;
  const style = level === 'HEALTHY' ? c.green : level === 'DEGRADED' ? c.yellow : level === 'CRITICAL' ? c.red : c.gray;
  return out.paint(level, (s) => c.bold(style(s)));
}

function fmt(v: number | null, unit: string): string {
  if (v === null) return 'no data';
  const n = Math.round(v * 100) / 100;
  return unit === '%' ? `${n}%` : unit === 'ms' ? `${n} ms` : String(n);
}

export async function renderReport(out: Output, report: HealthReport): Promise<void> {
  const { TREND_ARROW } = await import('../../health/format.js');
  out.line(`${out.c.bold('health')}: ${levelPaint(out, report.level).style(report.level)}  (${report.timestamp}, window ${report.window_minutes} min)`);
  const rows = [];
  const actions: string[] = [];
  for (const c of [...report.components, ...report.bots]) {
    const name = c.kind === 'bot' ? `bot ${c.name}` : c.name;
    if (c.stale) {
      rows.push([name, 'last report', c.last_seen ?? '', '', '', '', levelPaint(out, 'DEGRADED'), '', 'stale']);
    }
    if (c.metrics.length === 0 && !c.stale) rows.push([name, '', 'no data', '', '', '', levelPaint(out, 'UNKNOWN'), '', '']);
    for (const m of c.metrics) {
      const value = m.metric === 'db_pool' && m.in_use !== undefined ? `${m.in_use}/${m.size}` : fmt(m.value, m.unit);
      rows.push([
        name,
        m.metric,
        value,
        m.unit,
        m.warn === null ? '—' : String(m.warn),
        String(m.critical),
        m.no_data ? out.paint('no data', out.c.gray) : levelPaint(out, m.level),
        m.trend ? TREND_ARROW[m.trend]! : '',
        m.recommendation ?? '',
      ]);
    }
    for (const r of c.recommendations) actions.push(`${name}: ${r}`);
  }
  await out.table(['component', 'metric', 'value', 'unit', 'warn', 'crit', 'level', 'trend', 'action'], rows, [
    'left', 'left', 'right', 'left', 'right', 'right', 'left', 'left', 'left',
  ]);
  for (const a of report.alerts) {
    out.line(`alert: ${out.safe(a.event)} ${out.safe(a.component)} ${out.safe(a.metric)}=${a.current_value ?? ''} (${out.safe(a.alert_level)})`);
  }
}

export default defineCommand({
  name: 'health',
  summary: 'HEALTHY / DEGRADED / CRITICAL per component and per bot; exits 0/1/2/3 like a monitoring check',
  options: [
    { flags: '--bot <bot>', description: "only this bot (its level is the exit code)" },
    { flags: '--nagios', description: 'print the one-line monitoring-plugin format with performance data' },
  ],
  examples: ['deia health', 'deia health --bot BOT-002 --json', 'deia health --nagios   # exit 0 ok, 1 warning, 2 critical, 3 unknown'],
  errorExitCode: 3,
  postgres: true,
  async exec(run) {
    const { exitCodeOf } = await import('../../health/rules.js');
    let ctx;
    try {
      ctx = run.hive();
    } catch (e) {
      // A check on a hive that is not there is UNKNOWN, said where a monitoring system reads it.
      if ((e as { code?: string }).code !== 'ENOHIVE') throw e;
      const { message, hint } = e as { message: string; hint?: string };
      if (run.opts.nagios && !run.out.json) {
        run.out.line(`DEIA HEALTH UNKNOWN - ${message}`);
        return 3;
      }
      if (run.out.json) run.out.printJson({ level: 'UNKNOWN', reason: message, components: [], bots: [], alerts: [] });
      else run.out.line(`health: UNKNOWN (${message})`);
      run.out.errorLine(message, hint);
      return 3;
    }
    let report: HealthReport;
    const { checkBot, healthReportOn } = await import('../../health/records.js');
    const { onStore } = await import('../../messaging/records.js');
    checkBot(run.opts.bot);
    try {
      report = await onStore(ctx, (b) => healthReportOn(b, ctx, { bot: run.opts.bot }));
    } catch (e) {
      // A store that cannot be reached (or refuses) is UNKNOWN to a monitoring system: one line, exit 3.
      const { StoreError } = await import('../../store/types.js');
      if (!(e instanceof StoreError) || !run.opts.nagios || run.out.json) throw e;
      run.out.line(`DEIA HEALTH UNKNOWN - ${run.out.safe(oneLine(e.message))}`);
      return 3;
    }
    if (run.opts.nagios && !run.out.json) {
      const { nagiosLine } = await import('../../health/format.js');
      run.out.line(nagiosLine(report));
    } else if (run.out.json) run.out.printJson(report);
    else await renderReport(run.out, report);
    return exitCodeOf(report.level);
  },
});
