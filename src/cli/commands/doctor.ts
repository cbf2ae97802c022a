import { defineCommand } from '../command.js';
import { formatAge } from '../../common/parse.js';
import { doctor } from '../../maintenance/doctor.js';

export default defineCommand({
  name: 'doctor',
  summary: 'check .deia/: config, every JSONL line, stale locks, orphan temp files, permissions (exit 1 on problems)',
  options: [{ flags: '--repair', description: 'fix what is safe: move bad lines to NAME.corrupt.jsonl, clear stale locks and temp files' }],
  examples: ['deia doctor', 'deia doctor --repair', 'deia doctor --json'],
  async exec(run) {
    // A broken config.json is one of the things doctor reports, so it must not stop it from opening.
    const res = await doctor(run.hive({ ignoreConfig: true }), { repair: Boolean(run.opts.repair) });
    const { out } = run;
    if (out.json) {
      out.printJson(res);
      return res.ok ? 0 : 1;
    }
    if (!res.exists) {
      out.line(`no hive at ${out.safe(res.dir)} (nothing to check)`);
      return 0;
    }
    if (res.problems.length) {
      await out.table(
        ['problem', 'where', 'detail', ...(res.repair ? ['repair'] : [])],
        res.problems.map((p) => [
          out.paint(p.kind, p.repaired ? out.c.yellow : out.c.red),
          p.line !== undefined ? `${p.path}:${p.line}` : p.path,
          p.detail,
          ...(res.repair ? [p.repaired ? (p.action ?? 'fixed') : `not fixed${p.action ? `: ${p.action}` : ''}`] : []),
        ]),
      );
    }
    for (const l of res.held_locks) {
      const who = l.pid !== null ? `process ${l.pid}` : 'a live process';
      out.line(`note: ${out.safe(l.path)} is held by ${who} (refreshed ${formatAge(l.age_ms)} ago)`);
    }
    const a = res.audit;
    if (a.mailboxes > 0 && a.unlogged > 0) {
      out.line(`note: ${a.unlogged} mailbox message(s) have no message_delivered event (logged before the oldest kept audit generation, or by the next delivery)`);
    }
    const summary =
      `${res.files_checked} JSONL file(s), ${res.records_checked} record(s) checked` +
      (a.mailboxes ? `; ${a.mailboxes} mailbox(es) agree with the audit log on ${a.delivered_events - a.missing} of ${a.delivered_events} deliveries` : '');
    if (res.problems.length === 0) out.line(`${out.c.green('ok')}: ${summary}, no problems`);
    else if (res.ok) out.line(`repaired ${res.repaired} problem(s); ${summary}`);
    else {
      const left = res.problems.length - res.repaired;
      out.line(`${left} problem(s) found; ${summary}${res.repair ? '' : ' (run `deia doctor --repair`)'}`);
    }
    return res.ok ? 0 : 1;
  },
});
