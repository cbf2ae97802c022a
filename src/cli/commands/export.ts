import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'export',
  summary: 'write the audit logs (bot-messaging, adaptive-scheduling, health-alerts) as JSONL files, from a folder or PostgreSQL',
  options: [
    { flags: '--out <dir>', description: 'folder to write the three files into (created if missing)', default: '.' },
    { flags: '--force', description: 'replace files of the same names already there' },
  ],
  examples: [
    'deia export --out backups/2026-11-28',
    'deia export --store postgres://deia@db.internal/hive --out pg-export --json',
    'diff folder-export/bot-messaging.jsonl pg-export/bot-messaging.jsonl',
  ],
  postgres: true,
  oldLayout: true,
  async exec(run) {
    const ctx = run.hive();
    const { exportAuditLogs } = await import('../../maintenance/export.js');
    const res = await exportAuditLogs(ctx, { out: String(run.opts.out), force: Boolean(run.opts.force) });
    const { out } = run;
    if (out.json) return out.printJson(res);
    await out.table(
      ['log', 'lines', 'archived', 'bytes', 'file'],
      res.logs.map((l) => [l.log, l.lines, l.archived_lines, l.bytes, out.safe(l.file)]),
      ['left', 'right', 'right', 'right', 'left'],
    );
    out.line(`exported ${res.lines} line(s) from ${out.safe(res.store)} to ${out.safe(res.out)}`);
  },
});
