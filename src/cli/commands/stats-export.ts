import { UsageError } from '../../common/errors.js';
import { defineCommand } from '../command.js';
import { statsOf } from './stats.js';
import type { StatsRow } from '../../scheduling/policy.js';

const COLUMNS: Array<keyof StatsRow> = [
  'bot_id',
  'task_type',
  'samples',
  'successes',
  'failures',
  'success_rate',
  'weighted_success_rate',
  'success_interval',
  'recent_success_rate',
  'median_duration_ms',
  'mean_tokens',
  'trend',
  'first_at',
  'last_at',
];

export default defineCommand({
  name: 'stats export',
  summary: 'export the per bot × task type statistics as JSON or CSV on stdout',
  options: [
    { flags: '--format <format>', description: 'json or csv', default: 'json' },
    { flags: '--bot <bot>', description: 'only this bot' },
    { flags: '--type <type>', description: 'only this task type' },
  ],
  postgres: true,
  examples: ['deia stats export > routing.json', 'deia stats export --format csv --type code > code.csv'],
  async exec(run) {
    const { out, opts } = run;
    const format = String(opts.format).toLowerCase();
    if (format !== 'json' && format !== 'csv') throw new UsageError(`unknown --format ${JSON.stringify(opts.format)}`, 'use json or csv');
    const rows = await statsOf(run.hive(), { bot: opts.bot, type: opts.type });
    if (out.json || format === 'json') return out.printJson(rows);
    const lines = [COLUMNS.join(',')];
    for (const r of rows) lines.push(COLUMNS.map((c) => csvCell(r[c])).join(','));
    out.raw(lines.join('\n') + '\n');
  },
});

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) v = v.join(' ');
  const s = String(v);
  // Bot ids are restricted, but a cell must never start a formula in a spreadsheet nor break the row.
  const safe = /^[=+\-@]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
