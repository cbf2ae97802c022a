import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { configure, json } from './helpers/tasks.js';

const NOW = Date.parse('2025-03-01T10:00:00Z');
const at = (min: number) => ({ DEIA_NOW: String(NOW + min * 60_000) });

function hiveWithBots(bots: string[]) {
  const { dir } = tempHive();
  configure(dir, { health: { measure_system: false } });
  for (const b of bots) expect(deia(['register', b], { dir }).code).toBe(0);
  return dir;
}

describe('deia task (single steps)', () => {
  it('runs the loop: submit -> start -> done, records the outcome and notifies the submitter', () => {
    const dir = hiveWithBots(['BOT-A']);
    const t = json(['task', 'submit', 'fix', 'the', 'parser', '--type', 'code', '--as', 'LEAD'], dir, at(0));
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'BOT-A', task_type: 'code', submitted_by: 'LEAD', attempts: 1 });
    expect(t.message_id).toEqual(expect.any(String));
    expect(t.description).toBe('fix the parser');
    const inbox = json(['inbox', 'BOT-A'], dir);
    expect(inbox).toHaveLength(1);
    expect(inbox[0].message_id).toBe(t.message_id);
    expect(inbox[0].content).toContain(t.task_id);

    expect(json(['task', 'start', t.task_id.slice(0, 8), '--as', 'BOT-A'], dir, at(1)).status).toBe('in_progress');
    const done = json(['task', 'done', t.task_id, '--tokens', '42', '--as', 'BOT-A'], dir, at(3));
    expect(done).toMatchObject({ status: 'done', duration_ms: 120_000, tokens: 42, notified: true });

    const perf = readJsonl(path.join(dir, 'performance.jsonl'));
    expect(perf).toHaveLength(1);
    expect(perf[0]).toMatchObject({ bot_id: 'BOT-A', task_type: 'code', success: true, duration_ms: 120_000, task_id: t.task_id });
    const lead = json(['inbox', 'LEAD'], dir);
    expect(lead).toHaveLength(1);
    expect(lead[0].content).toMatch(new RegExp(`task ${t.task_id} done by BOT-A`));

    const list = json(['task', 'list', '--status', 'done'], dir);
    expect(list.map((x: any) => x.task_id)).toEqual([t.task_id]);
    expect(json(['task', 'show', t.task_id], dir)).toMatchObject({ status: 'done', bot_id: 'BOT-A' });
  });

  it('keeps a task queued when no bot is known, and dispatch assigns it later', () => {
    const { dir } = tempHive();
    configure(dir, { health: { measure_system: false } });
    const t = json(['task', 'submit', 'write docs', '--type', 'documentation', '--as', 'LEAD'], dir);
    expect(t).toMatchObject({ status: 'queued', bot_id: null, message_id: null });
    expect(json(['task', 'dispatch'], dir)).toMatchObject({ dispatched: 0, still_queued: 1 });
    deia(['register', 'BOT-D'], { dir });
    const d = json(['task', 'dispatch'], dir);
    expect(d).toMatchObject({ dispatched: 1, still_queued: 0 });
    expect(json(['task', 'show', t.task_id], dir)).toMatchObject({ status: 'assigned', bot_id: 'BOT-D' });
  });

  it('a bot cannot finish another bot\'s task: exit 2, nothing changed', () => {
    const dir = hiveWithBots(['BOT-A', 'BOT-B']);
    const t = json(['task', 'submit', 'x', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    const before = snapshotTree(dir);
    for (const cmd of ['done', 'start', 'fail']) {
      const r = deia(['task', cmd, t.task_id, '--as', 'BOT-B'], { dir });
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toMatch(/^deia: task .* is assigned to BOT-A, not BOT-B \(/);
    }
    const none = deia(['task', 'done', t.task_id], { dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs to know which bot you are/);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('task done twice is an error the second time, and records one outcome', () => {
    const dir = hiveWithBots(['BOT-A']);
    const t = json(['task', 'submit', 'x', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    expect(deia(['task', 'done', t.task_id, '--as', 'BOT-A'], { dir }).code).toBe(0);
    const again = deia(['task', 'done', t.task_id, '--as', 'BOT-A'], { dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already done/);
    expect(readJsonl(path.join(dir, 'performance.jsonl'))).toHaveLength(1);
  });

  it('fail --retry re-queues for another bot, excluding the one that failed', () => {
    const dir = hiveWithBots(['BOT-A', 'BOT-B']);
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    const f = json(['task', 'fail', t.task_id, '--retry', '--reason', 'no GPU', '--as', 'BOT-A'], dir);
    expect(f).toMatchObject({ status: 'assigned', bot_id: 'BOT-B', attempts: 2, excluded: ['BOT-A'], reassigned_to: 'BOT-B' });
    expect(json(['inbox', 'BOT-B'], dir)[0].content).toContain(t.task_id);
    const perf = readJsonl(path.join(dir, 'performance.jsonl'));
    expect(perf).toMatchObject([{ bot_id: 'BOT-A', success: false, task_id: t.task_id }]);
    // BOT-B fails too: no bot left, the task waits in the queue.
    const f2 = json(['task', 'fail', t.task_id, '--retry', '--as', 'BOT-B'], dir);
    expect(f2).toMatchObject({ status: 'queued', excluded: ['BOT-A', 'BOT-B'] });
  });

  it('re-dispatches a task whose bot went stale', () => {
    const dir = hiveWithBots(['BOT-A']);
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir, at(0));
    json(['task', 'start', t.task_id, '--as', 'BOT-A'], dir, at(1));
    deia(['register', 'BOT-B'], { dir });
    // Not stale yet at 20 min (tasks.stale_minutes = 30).
    expect(json(['task', 'dispatch'], dir, at(20))).toMatchObject({ redispatched: 0 });
    const d = json(['task', 'dispatch'], dir, at(40));
    expect(d).toMatchObject({ redispatched: 1, stale: [{ task_id: t.task_id, bot_id: 'BOT-A' }] });
    const shown = json(['task', 'show', t.task_id], dir);
    expect(shown).toMatchObject({ status: 'assigned', bot_id: 'BOT-B', attempts: 2, excluded: ['BOT-A'] });
    expect(json(['inbox', 'BOT-B'], dir)[0].content).toContain(t.task_id);
    // The stale bot coming back cannot finish it any more.
    expect(deia(['task', 'done', t.task_id, '--as', 'BOT-A'], { dir }).code).toBe(2);
  });

  it('validates input before writing anything', () => {
    const dir = hiveWithBots(['BOT-A']);
    const before = snapshotTree(dir);
    const cases: string[][] = [
      ['task', 'submit', 'x', '--type', 'non sense', '--as', 'L'],
      ['task', 'submit', 'x', '--priority', 'P9', '--as', 'L'],
      ['task', 'submit', 'x', '--to', '../etc', '--as', 'L'],
      ['task', 'submit', '   ', '--as', 'L'],
      ['task', 'submit', 'x'],
      ['task', 'list', '--status', 'nope'],
    ];
    for (const c of cases) expect(deia(c, { dir }).code, c.join(' ')).toBe(2);
    expect(deia(['task', 'show', 'nope'], { dir }).code).toBe(1);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('`deia task --help` shows the sub-commands; `deia task` alone is a usage error', () => {
    const h = deia(['task', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/submit/);
    expect(h.stdout).toMatch(/dispatch/);
    expect(deia(['task']).code).toBe(2);
  });

  it('on a hive that does not exist, says where it looked (exit 1) and creates nothing', () => {
    const { dir } = tempHive();
    const r = deia(['task', 'list'], { dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`hive not found at ${dir}`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('`task list --limit 0` lists no task (not every task), --limit N the last N', () => {
    const dir = hiveWithBots([]);
    const ts = [0, 1, 2].map((i) => json(['task', 'submit', `t${i}`, '--type', 'code', '--as', 'LEAD'], dir, at(i)));
    expect(json(['task', 'list', '--limit', '0'], dir)).toEqual([]);
    expect(deia(['task', 'list', '--limit', '0'], { dir }).stdout).toMatch(/no tasks/);
    expect(json(['task', 'list', '--limit', '2'], dir).map((t: any) => t.task_id)).toEqual([ts[1].task_id, ts[2].task_id]);
    expect(deia(['task', 'list', '--limit', '-1'], { dir }).code).toBe(2);
  });
});

describe('deia scale', () => {
  it('says steady, then up when the queue is deep; only an --exec that ran a command starts the cooldown', () => {
    const { dir, root } = tempHive();
    const marker = path.join(root, 'spawned.txt');
    configure(dir, {
      health: { measure_system: false },
      scaling: { scale_up_queue_depth: 4, max_step: 1, spawn_command: `echo {bot} {type} >> ${marker}` },
    });
    expect(json(['scale'], dir, at(0))).toMatchObject({ action: 'steady' });
    for (let i = 0; i < 4; i++) json(['task', 'submit', `t${i}`, '--type', 'testing', '--as', 'LEAD'], dir, at(0));
    const up = json(['scale'], dir, at(1));
    expect(up).toMatchObject({ action: 'up', types: ['testing'], queue_depth: { queued: 4, total: 4 }, executed: [] });
    expect(up.advice).toMatch(/^scale up by \d+ for types testing$/);
    // Advice alone starts no cooldown: asking again, then acting, is not held back.
    expect(json(['scale'], dir, at(2))).toMatchObject({ action: 'up', held_back: null });
    expect(fs.existsSync(path.join(dir, 'state', 'scaling.json'))).toBe(false);
    const ran = json(['scale', '--exec'], dir, at(2));
    expect(ran).toMatchObject({ action: 'up', exec: true, executed: [{ action: 'spawn', bot_id: 'BOT-001', task_type: 'testing' }] });
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(marker) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    expect(fs.readFileSync(marker, 'utf8').trim()).toBe('BOT-001 testing');
    // That run did start one: advice and --exec are held back until it ends (5 min).
    expect(json(['scale'], dir, at(3))).toMatchObject({ action: 'steady', held_back: 'up' });
    expect(json(['scale', '--exec'], dir, at(3))).toMatchObject({ action: 'steady', held_back: 'up', executed: [] });
    expect(readJsonl(path.join(dir, 'scaling.jsonl'))).toHaveLength(1);
    expect(json(['scale'], dir, at(8))).toMatchObject({ action: 'up' });
  });

  it('on a hive that does not exist, scale (and scale --exec) say where they looked and create nothing', () => {
    const { dir, root } = tempHive();
    for (const args of [['scale'], ['scale', '--exec']]) {
      const r = deia([...args, '--json'], { dir });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`hive not found at ${dir}`);
    }
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('advises retiring an idle bot, and --exec runs the configured command and logs it', () => {
    const { dir, root } = tempHive();
    const marker = path.join(root, 'retired.txt');
    configure(dir, {
      health: { measure_system: false },
      scaling: { min_bots: 1, retire_command: `echo {bot} {type} >> ${marker}` },
    });
    deia(['register', 'BOT-A'], { dir, env: at(0) });
    deia(['register', 'BOT-B'], { dir, env: at(0) });
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-B', '--as', 'BOT-A'], dir, at(0));
    json(['task', 'done', t.task_id, '--as', 'BOT-B'], dir, at(1));
    const r = json(['scale', '--exec'], dir, at(30));
    expect(r).toMatchObject({ action: 'down', exec: true });
    expect(r.retire.length).toBe(1);
    expect(r.executed).toHaveLength(1);
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(marker) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    expect(fs.readFileSync(marker, 'utf8').trim()).toMatch(/^BOT-[AB] (code|other)$/);
    expect(readJsonl(path.join(dir, 'scaling.jsonl'))).toMatchObject([{ event: 'scale_retire' }]);
  });

  it('without a command template, --exec only advises', () => {
    const { dir } = tempHive();
    configure(dir, { health: { measure_system: false }, scaling: { scale_up_queue_depth: 1 } });
    json(['task', 'submit', 'x', '--type', 'code', '--as', 'LEAD'], dir);
    const r = json(['scale', '--exec'], dir);
    expect(r).toMatchObject({ action: 'up', executed: [] });
    expect(r.exec_note).toMatch(/spawn_command is not set/);
  });
});

describe('deia demo', () => {
  it('runs real bot processes to the end, prints a summary, and leaves the hive', () => {
    const { dir } = tempHive();
    const r = deia(['demo', '--tasks', '24', '--interval', '20', '--fast', '--json'], { dir });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ dir, tasks: 24, unfinished: 0 });
    expect(s.done + s.failed).toBe(24);
    expect(s.bots).toHaveLength(4);
    expect(s.bots.reduce((n: number, b: any) => n + b.tasks, 0)).toBe(24);
    // deia is not on the tests' PATH: the hint names node and the bundle, which work from anywhere.
    expect(s.look[0]).toBe(`node ${fs.realpathSync(mainPath())} health serve --dir ${dir}`);
    expect(json(['task', 'list', '--status', 'done'], dir).length).toBe(s.done);
    expect(fs.existsSync(path.join(dir, 'state', 'demo-stop'))).toBe(false);
    // The hive it leaves is a new folder's: the storage interface's layout (no URL in its hints or --json), and doctor finds it sound.
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    expect(s.store).toBeUndefined();
    const doc = deia(['doctor', '--json'], { dir });
    expect(doc.code, doc.stdout + doc.stderr).toBe(0);
  });

  it('runs in a folder of its own even when DEIA_STORE names a store elsewhere (its bots too)', () => {
    const { root } = tempHive();
    const r = deia(['demo', '--tasks', '8', '--interval', '10', '--fast', '--json'], { cwd: root, env: { DEIA_STORE: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    try {
      expect(s).toMatchObject({ tasks: 8, unfinished: 0 });
      expect(s.done + s.failed).toBe(8);
    } finally {
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('submits a batch from stdin, validating every line first', () => {
    const dir = hiveWithBots(['BOT-A']);
    const bad = deia(['task', 'submit', '--stdin-jsonl', '--as', 'L'], { dir, input: '{"description":"a"}\n{"description":"b","type":"z z"}\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/task 2: invalid task type/);
    expect(json(['task', 'list'], dir)).toEqual([]);
    const ok = deia(['task', 'submit', '--stdin-jsonl', '--as', 'L'], { dir, input: '{"description":"a"}\n{"description":"b","type":"testing"}\n' });
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(2);
  });
});
