import { defineCommand } from '../command.js';
import type { Output } from '../output.js';
import { formatAge } from '../../common/parse.js';
import { doctor, type DoctorResult } from '../../maintenance/doctor.js';

/** What --repair fixes on a file:// folder (the rest it names, with what to do). */
const REPAIRABLE = new Set(['old_layout', 'corrupt_line', 'torn_tail', 'stale_lock', 'orphan_temp', 'world_writable', 'symlink', 'overdue_mail', 'pending_transaction']);

export default defineCommand({
  name: 'doctor',
  postgres: true,
  oldLayout: true,
  summary: 'check .deia/ (config, every JSONL line, stale locks, orphan temp files, permissions), a file:// folder (the same, its data and pending transactions) or a PostgreSQL store (schema, rows); exit 1 on problems',
  options: [
    {
      flags: '--repair',
      description:
        "fix what is safe: move bad lines to NAME.corrupt.jsonl, clear stale locks and temp files; on a file:// folder also complete a killed transaction and run cleanup's delivery step for overdue mail; on PostgreSQL only that delivery step",
    },
  ],
  examples: ['deia doctor', 'deia doctor --repair', 'deia doctor --json', 'deia doctor --store file:///srv/hive/.deia', 'deia doctor --store postgres://deia@db.internal/hive'],
  async exec(run) {
    // A broken config.json is one of the things doctor reports, so it must not stop it from opening.
    const res = await doctor(run.hive({ ignoreConfig: true }), { repair: Boolean(run.opts.repair) });
    const { out } = run;
    if (out.json) {
      out.printJson(res);
      return res.ok ? 0 : 1;
    }
    if (!res.exists && res.store.kind !== 'postgres') {
      out.line(`no hive at ${out.safe(res.dir)} (nothing to check)`);
      return 0;
    }
    const kind = res.store.kind;
    if (res.problems.length) {
      // Through the interface most data problems are not doctor's to fix: what to do is shown without --repair too.
      const todo = kind !== 'file' && !res.repair;
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
    for (const line of notes(out, res)) out.line(line);
    out.line(verdict(out, res));
    return res.ok ? 0 : 1;
  },
});

/** Held locks, deliveries without an audit line, and which backend was checked. */
function notes(out: Output, res: DoctorResult): string[] {
  const lines: string[] = [];
  for (const l of res.held_locks) {
    const who = l.pid !== null ? `process ${l.pid}` : 'a live process';
    lines.push(`note: ${out.safe(l.path)} is held by ${who} (refreshed ${formatAge(l.age_ms)} ago)`);
  }
  const a = res.audit;
  if (a.mailboxes > 0 && a.unlogged > 0) {
    const why = res.store.kind === 'postgres' ? 'moved to deia_log_archive by retention, or copied by `deia migrate`' : 'moved to archive/bot-messaging.jsonl by retention';
    lines.push(
      res.store.kind === 'file'
        ? `note: ${a.unlogged} mailbox message(s) have no message_delivered event (logged before the oldest kept audit generation, or by the next delivery)`
        : `note: ${a.unlogged} inbox message(s) have no message_delivered event in the bot-messaging log (${why})`,
    );
  }
  if (res.store.kind === 'postgres') {
    lines.push(`note: PostgreSQL at ${out.safe(res.dir)}, schema version ${res.store.schema_version ?? '?'} (this deia: ${res.store.schema_expected}); not applicable there: ${res.store.not_applicable.join(', ')}`);
  }
  if (res.store.kind === 'interface') lines.push(`note: a folder in the storage interface's layout (layout.json) at ${out.safe(res.dir)}`);
  return lines;
}

/** The last line: ok, repaired, or how many problems are left (and whether --repair would help). */
function verdict(out: Output, res: DoctorResult): string {
  const kind = res.store.kind;
  const a = res.audit;
  const agree = a.mailboxes ? `; ${a.mailboxes} ${kind === 'file' ? 'mailbox' : 'inbox'}(es) agree with the audit log on ${a.delivered_events - a.missing} of ${a.delivered_events} deliveries` : '';
  const summary =
    kind === 'postgres'
      ? `${res.records_checked} record(s) checked (queue items, documents, log lines)${agree}`
      : kind === 'interface'
        ? `${res.files_checked} JSONL file(s), ${res.records_checked} record(s) checked (queue items, documents, log lines)${agree}`
        : `${res.files_checked} JSONL file(s), ${res.records_checked} record(s) checked${agree}`;
  if (res.problems.length === 0) return `${out.c.green('ok')}: ${summary}, no problems`;
  if (res.ok) return `repaired ${res.repaired} problem(s); ${summary}`;
  const left = res.problems.length - res.repaired;
  // On PostgreSQL --repair fixes overdue mail only, on a file:// folder what REPAIRABLE lists: suggested when there is some.
  const helps = kind === 'file' || res.problems.some((p) => !p.repaired && (kind === 'postgres' ? p.kind === 'overdue_mail' : REPAIRABLE.has(p.kind)));
  return `${left} problem(s) found; ${summary}${!res.repair && helps ? ' (run `deia doctor --repair`)' : ''}`;
}
