import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';
import { configure, json } from './helpers/tasks.js';

const NOW = Date.parse('2025-03-01T10:00:00Z');
const at = (ms: number) => ({ DEIA_NOW: String(NOW + ms) });

function hive(bots: string[]) {
  const { dir } = tempHive('deia-stuck-');
  configure(dir, { health: { measure_system: false } });
  for (const b of bots) expect(deia(['register', b], { dir }).code).toBe(0);
  return dir;
}

describe('stuck tasks (issue 10.6)', () => {
  it('a task taken back from a CRITICAL bot is withdrawn from its inbox, re-given, and not taken back again within ms', () => {
    const dir = hive(['BOT-A', 'BOT-B']);
    const t = json(['task', 'submit', 'build it', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir, at(0));
    const assignment = json(['inbox', 'BOT-A'], dir, at(0)).find((m: any) => m.content.includes(t.task_id));
    expect(assignment).toBeTruthy();
    // Both bots turn CRITICAL (as every bot did in the field).
    for (const b of ['BOT-A', 'BOT-B']) expect(deia(['health', 'record', 'cpu', '97', '--bot', b], { dir, env: at(100_000) }).code).toBe(0);

    const d1 = json(['task', 'dispatch'], dir, at(120_000));
    expect(d1.stale).toMatchObject([{ task_id: t.task_id, bot_id: 'BOT-A' }]);
    expect(d1.withdrawn).toEqual([{ task_id: t.task_id, bot_id: 'BOT-A', message_id: assignment.message_id }]);
    expect(d1.assignments).toMatchObject([{ task_id: t.task_id, bot_id: 'BOT-B' }]);
    // 93 ms later: not taken back from BOT-B again (no flip-flop), not stuck in the queue.
    const d2 = json(['task', 'dispatch'], dir, at(120_093));
    expect(d2).toMatchObject({ stale: [], still_queued: 0 });
    expect(json(['task', 'show', t.task_id], dir)).toMatchObject({ status: 'assigned', bot_id: 'BOT-B' });

    // BOT-A no longer finds the assignment among its unread messages.
    expect(json(['inbox', 'BOT-A'], dir, at(120_100)).map((m: any) => m.message_id)).not.toContain(assignment.message_id);
    // BOT-A acting on the message it was sent gets a clear answer.
    const start = deia(['task', 'start', t.task_id, '--as', 'BOT-A'], { dir, env: at(120_200) });
    expect(start.code).toBe(2); // nothing stored, as for any task that is not the bot's
    expect(start.stderr).toBe(
      `deia: task ${t.task_id} was taken back from BOT-A (BOT-A is CRITICAL and had not started it) and is now given to BOT-B (do not work on it; take the next assignment from your inbox)\n`,
    );

    // Later BOT-B, still CRITICAL, has it taken back too: with every bot taken back from, the
    // task goes to one of them again rather than waiting in the queue forever.
    const d3 = json(['task', 'dispatch'], dir, at(240_000));
    expect(d3.stale).toMatchObject([{ task_id: t.task_id, bot_id: 'BOT-B' }]);
    expect(d3).toMatchObject({ still_queued: 0 });
    expect(json(['task', 'show', t.task_id], dir).status).toBe('assigned');
  });

  it('a queued task always shows why it waits, in task list, task show and task dispatch', () => {
    const dir = hive([]);
    const t = json(['task', 'submit', 'lonely', '--type', 'code', '--as', 'LEAD'], dir);
    expect(t.status).toBe('queued');
    const shown = json(['task', 'show', t.task_id], dir);
    expect(shown.waiting_reason).toMatch(/^no bot could take it when it was submitted/);
    expect(json(['task', 'list'], dir)[0].waiting_reason).toBe(shown.waiting_reason);
    const list = deia(['task', 'list'], { dir });
    expect(list.stdout.split('\n')[0]).toMatch(/WHY QUEUED$/);
    expect(list.stdout).toContain('no bot could take it');
    expect(deia(['task', 'show', t.task_id], { dir }).stdout).toMatch(/why queued +no bot could take it/);
    const d = deia(['task', 'dispatch'], { dir });
    expect(d.stdout).toContain(`${t.task_id.slice(0, 8)} still queued: no bot besides its submitter can take it`);
  });
});
