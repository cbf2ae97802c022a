import { describe, expect, it } from 'vitest';
import {
  attemptDuration,
  checkTransition,
  foldTasks,
  lastActivity,
  staleTasks,
  taskIdFromMessage,
  assignmentBody,
  type TaskRecord,
} from '../src/tasks/model.js';
import { adviceLine, fillTemplate, newBotIds, scaleAdvice, type ScaleConfig } from '../src/tasks/scale.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const submitted = (id: string, s = 0): TaskRecord => ({
  event: 'submitted', task_id: id, timestamp: at(s), task_type: 'code', description: 'd', priority: 'P2', submitted_by: 'SUB',
});

describe('task state machine', () => {
  it('folds queued -> assigned -> in_progress -> done and counts attempts', () => {
    const recs: TaskRecord[] = [
      submitted('t1'),
      { event: 'assigned', task_id: 't1', timestamp: at(1), bot_id: 'A', attempt: 1, message_id: null },
      { event: 'message', task_id: 't1', timestamp: at(1), attempt: 1, message_id: 'm1' },
      { event: 'started', task_id: 't1', timestamp: at(5), bot_id: 'A' },
      { event: 'done', task_id: 't1', timestamp: at(9), bot_id: 'A', duration_ms: 4000, tokens: 10 },
    ];
    const t = foldTasks(recs).get('t1')!;
    expect(t).toMatchObject({ status: 'done', bot_id: 'A', message_id: 'm1', attempts: 1, duration_ms: 4000, tokens: 10 });
    expect(t.started_at).toBe(at(5));
  });

  it('fail with retry re-queues and excludes the failed bot; the next attempt counts', () => {
    const recs: TaskRecord[] = [
      submitted('t1'),
      { event: 'assigned', task_id: 't1', timestamp: at(1), bot_id: 'A', attempt: 1, message_id: 'm1' },
      { event: 'failed', task_id: 't1', timestamp: at(2), bot_id: 'A', duration_ms: 1, tokens: null, reason: 'x', retry: true },
    ];
    let t = foldTasks(recs).get('t1')!;
    expect(t).toMatchObject({ status: 'queued', bot_id: null, excluded: ['A'], attempts: 1 });
    recs.push({ event: 'assigned', task_id: 't1', timestamp: at(3), bot_id: 'B', attempt: 2, message_id: null });
    t = foldTasks(recs).get('t1')!;
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'B', attempts: 2 });
  });

  it('ignores transitions from the wrong bot or state, and duplicates by task id', () => {
    const recs: TaskRecord[] = [
      submitted('t1'),
      submitted('t1', 50),
      { event: 'started', task_id: 't1', timestamp: at(1), bot_id: 'A' },
      { event: 'assigned', task_id: 't1', timestamp: at(1), bot_id: 'A', attempt: 1, message_id: null },
      { event: 'done', task_id: 't1', timestamp: at(2), bot_id: 'B', duration_ms: 1, tokens: null },
      { event: 'done', task_id: 'nope', timestamp: at(2), bot_id: 'B', duration_ms: 1, tokens: null },
    ];
    const tasks = foldTasks(recs);
    expect(tasks.size).toBe(1);
    expect(tasks.get('t1')).toMatchObject({ status: 'assigned', submitted_at: at(0) });
  });

  it('only the assigned bot may act; finished tasks cannot change', () => {
    const base: TaskRecord[] = [submitted('t1'), { event: 'assigned', task_id: 't1', timestamp: at(1), bot_id: 'A', attempt: 1, message_id: null }];
    const t = foldTasks(base).get('t1')!;
    expect(() => checkTransition(t, 'done', 'B')).toThrow(/assigned to A, not B/);
    expect(() => checkTransition(t, 'start', 'A')).not.toThrow();
    const done = foldTasks([...base, { event: 'done', task_id: 't1', timestamp: at(2), bot_id: 'A', duration_ms: 1, tokens: null }]).get('t1')!;
    expect(() => checkTransition(done, 'done', 'A')).toThrow(/already done/);
    const queued = foldTasks([submitted('t2')]).get('t2')!;
    expect(() => checkTransition(queued, 'start', 'A')).toThrow(/queued/);
  });

  it('measures duration from start, else from assignment', () => {
    const recs: TaskRecord[] = [submitted('t1'), { event: 'assigned', task_id: 't1', timestamp: at(10), bot_id: 'A', attempt: 1, message_id: null }];
    expect(attemptDuration(foldTasks(recs).get('t1')!, T0 + 15_000)).toBe(5000);
    recs.push({ event: 'started', task_id: 't1', timestamp: at(12), bot_id: 'A' });
    expect(attemptDuration(foldTasks(recs).get('t1')!, T0 + 15_000)).toBe(3000);
  });

  it('finds stale tasks by bot activity and CRITICAL health', () => {
    const recs: TaskRecord[] = [
      submitted('t1'),
      submitted('t2'),
      submitted('t3'),
      { event: 'assigned', task_id: 't1', timestamp: at(0), bot_id: 'A', attempt: 1, message_id: null },
      { event: 'assigned', task_id: 't2', timestamp: at(0), bot_id: 'B', attempt: 1, message_id: null },
      { event: 'assigned', task_id: 't3', timestamp: at(0), bot_id: 'C', attempt: 1, message_id: null },
      { event: 'started', task_id: 't2', timestamp: at(1700), bot_id: 'B' },
    ];
    const tasks = foldTasks(recs);
    const stale = staleTasks(tasks.values(), lastActivity(recs), { C: 'CRITICAL' }, T0 + 1800_000, 1800_000);
    expect(stale.map((s) => s.task.task_id).sort()).toEqual(['t1', 't3']);
    expect(stale.find((s) => s.task.task_id === 't1')!.reason).toMatch(/no task activity for 30 min/);
  });

  it('puts the task id in the assignment message', () => {
    const body = assignmentBody({ task_id: 'abc', task_type: 'code', description: 'fix it' });
    expect(taskIdFromMessage({ content: body })).toBe('abc');
    expect(taskIdFromMessage({ content: 'x', metadata: { task_id: 'q' } })).toBe('q');
  });
});

const CFG: ScaleConfig = {
  scale_up_queue_depth: 10, tasks_per_bot: 3, max_load_per_bot: 5, max_step: 3, min_bots: 1, idle_minutes: 10,
  scale_up_cooldown_minutes: 5, scale_down_cooldown_minutes: 10,
};
const NOW = T0 + 3600_000;
const bot = (id: string, load = 0, idleMin = 0, health: any = 'HEALTHY') => ({ bot_id: id, load, health, last_activity_ms: NOW - idleMin * 60_000 });

describe('scale advice', () => {
  it('advises up when queue depth reaches the threshold, sized by tasks per bot', () => {
    const a = scaleAdvice({ now: NOW, queued: 8, assigned_not_started: 2, urgent_unread: 2, waiting_types: ['code', 'testing', 'code'], bots: [bot('A', 2)] }, CFG);
    expect(a.action).toBe('up');
    expect(a.queue_depth.total).toBe(12);
    expect(a.count).toBe(3); // ceil(12/3) - 1 = 3, capped at max_step 3
    expect(a.types).toEqual(['code', 'testing']);
    expect(adviceLine(a)).toBe('scale up by 3 for types code, testing');
  });

  it('does not count CRITICAL bots as capacity, and advises up when all are saturated', () => {
    const a = scaleAdvice({ now: NOW, queued: 1, assigned_not_started: 0, urgent_unread: 0, waiting_types: ['code'], bots: [bot('A', 0, 0, 'CRITICAL')] }, CFG);
    expect(a.action).toBe('up');
    expect(a.reasons.join(' ')).toMatch(/no healthy bot/);
    const b = scaleAdvice({ now: NOW, queued: 1, assigned_not_started: 0, urgent_unread: 0, waiting_types: ['code'], bots: [bot('A', 5)] }, CFG);
    expect(b.action).toBe('up');
  });

  it('advises down for idle bots when the queue is empty, keeping min_bots', () => {
    const a = scaleAdvice({ now: NOW, queued: 0, assigned_not_started: 0, urgent_unread: 0, waiting_types: [], bots: [bot('A', 0, 12), bot('B', 0, 30), bot('C', 1, 40)] }, CFG);
    expect(a.action).toBe('down');
    expect(a.retire.map((r) => r.bot_id)).toEqual(['B', 'A']);
    expect(adviceLine(a)).toBe('scale down: B idle for 30 min, A idle for 12 min');
    const one = scaleAdvice({ now: NOW, queued: 0, assigned_not_started: 0, urgent_unread: 0, waiting_types: [], bots: [bot('A', 0, 60)] }, CFG);
    expect(one.action).toBe('steady');
  });

  it('is steady in between, and holds advice back during a cooldown', () => {
    const s = scaleAdvice({ now: NOW, queued: 2, assigned_not_started: 0, urgent_unread: 0, waiting_types: ['code'], bots: [bot('A', 1), bot('B', 0, 20)] }, CFG);
    expect(s.action).toBe('steady');
    const state = { last_action: 'up' as const, last_action_at: new Date(NOW - 2 * 60_000).toISOString(), last_count: 1 };
    const held = scaleAdvice({ now: NOW, queued: 20, assigned_not_started: 0, urgent_unread: 0, waiting_types: ['code'], bots: [bot('A', 1)], state }, CFG);
    expect(held).toMatchObject({ action: 'steady', held_back: 'up', count: 0 });
    expect(held.cooldown_until).toBe(new Date(NOW + 3 * 60_000).toISOString());
    const after = scaleAdvice({ now: NOW + 4 * 60_000, queued: 20, assigned_not_started: 0, urgent_unread: 0, waiting_types: ['code'], bots: [bot('A', 1)], state }, CFG);
    expect(after.action).toBe('up');
  });

  it('fills command templates and picks free bot ids', () => {
    expect(fillTemplate('run {bot} --type {type} # {bot}', { bot: 'BOT-001', type: 'code' })).toBe('run BOT-001 --type code # BOT-001');
    expect(newBotIds('BOT-', ['BOT-001', 'BOT-003'], 3)).toEqual(['BOT-002', 'BOT-004', 'BOT-005']);
  });
});
