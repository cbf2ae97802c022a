import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { configure, json } from './helpers/tasks.js';
import { emptyFold, foldOpen, foldTasks, isFinished, type TaskRecord } from '../src/tasks/model.js';

const NOW = Date.parse('2025-03-01T10:00:00Z');
const at = (hours: number) => ({ DEIA_NOW: String(NOW + hours * 3_600_000) });

/** A new hive folder (the layout every new folder starts in) with `bots` registered. */
function hive(bots: string[] = []) {
  const { dir } = tempHive();
  // No stale re-dispatch during these tests: they move the clock by days.
  // (nor health-driven re-dispatch: failing on purpose must not make the bot CRITICAL).
  configure(dir, {
    health: {
      measure_system: false,
      error_rate_warn: 100,
      error_rate_critical: 100,
      response_time_p95_warn: 86_400_000,
      response_time_p95_critical: 86_400_000,
    },
    tasks: { stale_minutes: 1_000_000 },
  });
  for (const b of bots) expect(deia(['register', b], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  return dir;
}

/** The stored fold of tasks.jsonl (the document `tasks`, docs/tasks.json) and its cursor: the log file's inode and the byte offset folded up to. */
function storedFold(dir: string): { open: any[]; finished: number; pending: number; ino: number; offset: number } {
  const { value } = JSON.parse(fs.readFileSync(path.join(dir, 'docs/tasks.json'), 'utf8'));
  const m = /^f1:(\d+):(\d+)$/.exec(value.cursor);
  expect(m, value.cursor).not.toBeNull();
  return { open: value.open, finished: value.finished, pending: value.pending, ino: Number(m![1]), offset: Number(m![2]) };
}

const ids = (xs: any[]) => xs.map((t) => t.task_id);

describe('tasks: the pure incremental fold', () => {
  it('folding in any number of steps gives the unfinished tasks of the full fold', () => {
    const ts = (m: number) => new Date(NOW + m * 60_000).toISOString();
    const recs: TaskRecord[] = [];
    for (let i = 0; i < 30; i++) {
      const id = `t${i}`;
      recs.push({ event: 'submitted', task_id: id, timestamp: ts(i), task_type: 'code', description: 'x', priority: 'P2', submitted_by: 'L' });
      if (i % 5 === 0) continue; // stays queued
      recs.push({ event: 'assigned', task_id: id, timestamp: ts(i), bot_id: `B${i % 3}`, attempt: 1, message_id: null });
      if (i % 5 === 1) continue; // stays assigned
      recs.push({ event: 'started', task_id: id, timestamp: ts(i + 1), bot_id: `B${i % 3}` });
      if (i % 5 === 2) continue; // in progress
      if (i % 5 === 3) {
        recs.push({ event: 'done', task_id: id, timestamp: ts(i + 2), bot_id: `B${i % 3}`, duration_ms: 1, tokens: null });
        // A late record of a finished task is ignored by both folds.
        recs.push({ event: 'done', task_id: id, timestamp: ts(i + 3), bot_id: `B${i % 3}`, duration_ms: 1, tokens: null });
      } else {
        recs.push({ event: 'failed', task_id: id, timestamp: ts(i + 2), bot_id: `B${i % 3}`, duration_ms: 1, tokens: null, reason: null, retry: i % 10 === 4 });
      }
    }
    const full = foldTasks(recs);
    const openFull = [...full.values()].filter((t) => !isFinished(t));
    for (const step of [1, 2, 7, recs.length]) {
      const state = emptyFold();
      for (let i = 0; i < recs.length; i += step) foldOpen(state, recs.slice(i, i + step));
      expect([...state.open.values()]).toEqual(openFull);
      expect(state.finished).toBe(full.size - openFull.length);
    }
  });
});

// The stored fold (docs/tasks.json) and its cursor over tasks.jsonl: commands read only what was appended since.
describe('tasks: the stored fold of tasks.jsonl (docs/tasks.json)', () => {
  it('a command reads only the lines appended since the stored fold; a rewrite (new inode) triggers a refold', () => {
    const dir = hive();
    const file = path.join(dir, 'tasks.jsonl');
    const submitted = [1, 2, 3].map((i) => json(['task', 'submit', `job ${i}`, '--type', 'code', '--as', 'LEAD'], dir));
    const state = storedFold(dir);
    expect(state.ino).toBe(fs.statSync(file).ino);
    // The cursor is where the last writer's own lines began: they are folded in too (pending).
    const tail = fs.readFileSync(file, 'utf8').slice(state.offset).split('\n').filter(Boolean);
    expect(tail).toHaveLength(state.pending);
    expect(ids(state.open)).toEqual(ids(submitted));

    const listQueued = () => ids(json(['task', 'list', '--status', 'queued'], dir));
    expect(listQueued()).toEqual(ids(submitted));

    // Damage the first (already folded) line in place: same inode, same size.
    const text = fs.readFileSync(file, 'utf8');
    const firstLen = text.indexOf('\n');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, 'X'.repeat(firstLen), 0, 'utf8');
    fs.closeSync(fd);
    expect(fs.statSync(file).ino).toBe(state.ino);
    const r = deia(['task', 'list', '--status', 'queued', '--json'], { dir });
    expect(r.stderr).toBe(''); // the damaged line was not even read
    expect(ids(JSON.parse(r.stdout))).toEqual(ids(submitted));

    // New lines are still folded, by a reader (in memory) and by a writer (stored).
    const fourth = json(['task', 'submit', 'job 4', '--type', 'code', '--as', 'LEAD'], dir);
    expect(listQueued()).toEqual([...ids(submitted), fourth.task_id]);
    expect(ids(storedFold(dir).open)).toEqual([...ids(submitted), fourth.task_id]);

    // A rewrite renames a new file over the old one: the cursor's inode no longer matches.
    fs.writeFileSync(file + '.new', fs.readFileSync(file));
    fs.renameSync(file + '.new', file);
    const after = deia(['task', 'list', '--status', 'queued', '--json'], { dir });
    expect(after.stderr).toMatch(/tasks\.jsonl:1: skipped a line that does not parse/);
    expect(ids(JSON.parse(after.stdout))).toEqual([submitted[1].task_id, submitted[2].task_id, fourth.task_id]);
  });

  it('a missing or corrupt stored fold means a refold, and readers never write it', () => {
    const dir = hive(['BOT-A']);
    const a = json(['task', 'submit', 'a', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    const b = json(['task', 'submit', 'b', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    json(['task', 'done', a.task_id, '--as', 'BOT-A'], dir);
    const stateFile = path.join(dir, 'docs/tasks.json');
    expect(ids(storedFold(dir).open)).toEqual([b.task_id]);

    fs.writeFileSync(stateFile, '{ not json');
    const before = snapshotTree(dir);
    expect(ids(json(['task', 'list', '--status', 'assigned'], dir))).toEqual([b.task_id]);
    expect(json(['task', 'show', a.task_id], dir).status).toBe('done');
    expect(json(['task', 'show', b.task_id.slice(0, 8)], dir).status).toBe('assigned');
    expect(snapshotTree(dir)).toEqual(before);

    // The next writer stores the refold.
    expect(json(['task', 'start', b.task_id.slice(0, 6), '--as', 'BOT-A'], dir).status).toBe('in_progress');
    expect(storedFold(dir)).toMatchObject({ open: [{ task_id: b.task_id, status: 'in_progress' }], finished: 1 });

    fs.rmSync(stateFile);
    const gone = snapshotTree(dir);
    expect(json(['task', 'show', b.task_id], dir).status).toBe('in_progress');
    expect(snapshotTree(dir)).toEqual(gone);
    expect(json(['task', 'done', b.task_id, '--as', 'BOT-A'], dir).status).toBe('done');
    expect(storedFold(dir)).toMatchObject({ open: [], finished: 2 });
  });
});

describe('tasks: retention (deia cleanup)', () => {
  function scenario() {
    // BOT-B takes the retried task: a task left queued would be routed (and logged) by every cleanup.
    const dir = hive(['BOT-A', 'BOT-B']);
    const sub = (d: string) => json(['task', 'submit', d, '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir, at(0));
    const done = sub('done long ago');
    const failed = sub('failed long ago');
    const retried = sub('failed, retried with another bot');
    const assigned = sub('still assigned');
    const running = sub('in progress');
    json(['task', 'done', done.task_id, '--as', 'BOT-A'], dir, at(1));
    json(['task', 'fail', failed.task_id, '--as', 'BOT-A'], dir, at(1));
    expect(json(['task', 'fail', retried.task_id, '--retry', '--as', 'BOT-A'], dir, at(1)).status).toBe('assigned');
    json(['task', 'start', running.task_id, '--as', 'BOT-A'], dir, at(1));
    const recent = sub('done recently');
    json(['task', 'done', recent.task_id, '--as', 'BOT-A'], dir, at(190));
    return { dir, done, failed, retried, assigned, running, recent };
  }

  it('moves finished tasks past tasks.retention_hours to archive/tasks.jsonl and keeps open and recent ones', () => {
    const s = scenario();
    const { dir } = s;
    const tasksFile = path.join(dir, 'tasks.jsonl');
    const archive = path.join(dir, 'archive/tasks.jsonl');
    const moved = [s.done.task_id, s.failed.task_id];
    const recordsOf = (file: string, id: string) => readJsonl(file).filter((r) => r.task_id === id);
    const movedRecords = readJsonl(tasksFile).filter((r) => moved.includes(r.task_id)); // in file order

    // Dry run: counts, changes nothing.
    const before = snapshotTree(dir);
    const dry = json(['cleanup', '--dry-run'], dir, at(200));
    expect(dry.task_retention).toEqual({ archived: 2, records: movedRecords.length, kept: 4 });
    expect(dry.changed).toBe(true);
    expect(snapshotTree(dir)).toEqual(before);

    const res = json(['cleanup'], dir, at(200));
    expect(res.task_retention).toEqual({ archived: 2, records: movedRecords.length, kept: 4 });
    expect(res.errors).toEqual([]);
    expect(readJsonl(archive)).toEqual(movedRecords);
    for (const id of moved) expect(recordsOf(tasksFile, id)).toEqual([]);
    const log = readJsonl(path.join(dir, 'bot-messaging.jsonl')).filter((r) => r.event === 'cleanup_completed');
    expect(log.at(-1).details.task_retention).toMatchObject({ archived: 2 });

    // What stays: the open tasks and the recently finished one.
    const all = json(['task', 'list'], dir, at(200));
    expect(ids(all).sort()).toEqual([s.retried, s.assigned, s.running, s.recent].map((t) => t.task_id).sort());
    expect(ids(json(['task', 'list', '--status', 'assigned'], dir, at(200)))).toEqual([s.retried.task_id, s.assigned.task_id]);
    // An archived task is "not found" (exit 1), and the hint says where it went.
    const shown = deia(['task', 'show', s.done.task_id], { dir });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toMatch(/no task .*archive\/tasks\.jsonl/);
    // The stored fold matches the rewritten file, and work goes on.
    expect(storedFold(dir)).toMatchObject({ ino: fs.statSync(tasksFile).ino, offset: fs.statSync(tasksFile).size, pending: 0 });
    expect(json(['task', 'done', s.running.task_id, '--as', 'BOT-A'], dir, at(201)).status).toBe('done');

    // A cleanup right after another finds nothing and changes no file (the first one folds
    // the outcome `task done` just recorded into health's aggregates).
    json(['cleanup'], dir, at(201));
    const after = snapshotTree(dir);
    const again = json(['cleanup'], dir, at(201));
    expect(again.task_retention).toEqual({ archived: 0, records: 0, kept: 4 });
    expect(again.changed, JSON.stringify(again)).toBe(false);
    expect(snapshotTree(dir)).toEqual(after);
    expect(deia(['doctor'], { dir }).code).toBe(0);
  });

  // Archiving is two steps on a folder: the records are appended to archive/tasks.jsonl, then
  // tasks.jsonl is replaced by a copy without them. A run killed in between leaves them in both.
  it('is idempotent: a run killed after archiving, before its rewrite, does not archive twice', () => {
    const s = scenario();
    const { dir } = s;
    const archive = path.join(dir, 'archive/tasks.jsonl');
    const before = json(['task', 'list'], dir, at(200));
    // Killed (SIGKILL) with the finished tasks' records in the archive and still in tasks.jsonl.
    const killed = deia(['cleanup', '--json'], { dir, env: { ...at(200), DEIA_FAULT: 'file-move-kill' } });
    expect(killed.code, killed.stderr).toBe(-1); // no exit code: killed by a signal
    expect(killed.stdout).toBe('');
    expect(readJsonl(archive).length).toBeGreaterThan(0);
    expect(json(['task', 'list'], dir, at(200))).toEqual(before); // the log still holds them
    const res = json(['cleanup'], dir, at(200));
    expect(res.task_retention).toMatchObject({ archived: 2 });
    const archived = readJsonl(archive);
    // Each moved record once: the killed run's copies were cut back before they were moved again.
    expect(new Set(archived.map((r) => JSON.stringify(r))).size).toBe(archived.length);
    expect(ids(json(['task', 'list'], dir, at(200))).length).toBe(4);
    expect(fs.existsSync(path.join(dir, 'archive/tasks.moving.json'))).toBe(false);
  });
});
