import { defineCommand } from '../command.js';
import { formatAge } from '../../common/parse.js';
import { doctor } from '../../maintenance/doctor.js';

export default defineCommand({
  name: 'doctor',
  postgres: true,
  summary: 'check .deia/ (config, every JSONL line, stale locks, orphan temp files, permissions) or a PostgreSQL store (schema, rows); exit 1 on problems',
  options: [
    {
      flags: '--repair',
      description: 'fix what is safe: move bad lines to NAME.corrupt.jsonl, clear stale locks and temp files; on PostgreSQL only run cleanup\'s delivery step for overdue mail',
    },
  ],
  examples: ['deia doctor', 'deia doctor --repair', 'deia doctor --json', 'deia doctor --store postgres://deia@db.internal/hive'],
  async exec(run) {
    // A broken config.json is one of the things doctor reports, so it must not stop it from opening.
    const res = await doctor(run.hive({ ignoreConfig: true }), { repair: Boolean(run.opts.repair) });
    const { out } = run;
    if (out.json) {
      out.printJson(res);
      return res.ok ? 0 : 1;
    }
    if (!res.exists && res.store.kind === 'file') {
      out.line(`no hive at ${out.safe(res.dir)} (nothing to check)`);
      return 0;
    }
    const pg = res.store.kind === 'postgres';
    if (res.problems.length) {
      // On PostgreSQL most problems are not doctor's to fix: what to do is shown without --repair too.
      const todo = pg && !res.repair;
      await out.table(
        ['problem', 'where', 'detail', ...(res.repair ? ['repair'] : todo ? ['what to do'] : [])],
        res.problems.map((p) => [
          out.paint(p.kind, p.repaired ? out.c.yellow : out.c.red),
          p.line !== undefined ? `${p.path}:${p.line}` : p.path,
          p.detail,
          ...(res.repair ? [p.repaired ? (p.action ?? 'fixed') : `not fixed${p.action ? `: ${p.action}` : ''}`] : todo ? [p.action ?? ''] : []),
        ]),
      );
    }
    for (const l of res.held_locks) {
      const who = l.pid !== null ? `process ${l.pid}` : 'a live process';
      out.line(`note: ${out.safe(l.path)} is held by ${who} (refreshed ${formatAge(l.age_ms)} ago)`);
    }
    const a = res.audit;
    if (a.mailboxes > 0 && a.unlogged > 0) {
      out.line(
        pg
          ? `note: ${a.unlogged} inbox message(s) have no message_delivered event in the bot-messaging log (moved to deia_log_archive by retention, or copied by \`deia migrate\`)`
          : `note: ${a.unlogged} mailbox message(s) have no message_delivered event (logged before the oldest kept audit generation, or by the next delivery)`,
      );
    }
    if (pg) out.line(`note: PostgreSQL at ${out.safe(res.dir)}, schema version ${res.store.schema_version ?? '?'} (this deia: ${res.store.schema_expected}); not applicable there: ${res.store.not_applicable.join(', ')}`);
    const summary = pg
      ? `${res.records_checked} record(s) checked (queue items, documents, log lines)` +
        (a.mailboxes ? `; ${a.mailboxes} inbox(es) agree with the audit log on ${a.delivered_events - a.missing} of ${a.delivered_events} deliveries` : '')
      : `${res.files_checked} JSONL file(s), ${res.records_checked} record(s) checked` +
        (a.mailboxes ? `; ${a.mailboxes} mailbox(es) agree with the audit log on ${a.delivered_events - a.missing} of ${a.delivered_events} deliveries` : '');
    if (res.problems.length === 0) out.line(`${out.c.green('ok')}: ${summary}, no problems`);
    else if (res.ok) out.line(`repaired ${res.repaired} problem(s); ${summary}`);
    else {
      const left = res.problems.length - res.repaired;
      // On PostgreSQL --repair fixes overdue mail only: suggested when there is some.
      const suggest = !res.repair && (!pg || res.problems.some((p) => p.kind === 'overdue_mail'));
      out.line(`${left} problem(s) found; ${summary}${suggest ? ' (run `deia doctor --repair`)' : ''}`);
    }
    return res.ok ? 0 : 1;
  },
});
