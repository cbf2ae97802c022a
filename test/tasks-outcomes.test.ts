import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../src/common/ids.js';
import { createContext, type HiveContext } from '../src/hive.js';
import { finishTask, startTask, submitTask } from '../src/tasks/api.js';
import { deia, readJsonl, tempHive } from './helpers/cli.js';
import { configure, json } from './helpers/tasks.js';
import { makeFolderLayout } from './helpers/folder-layout.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

/**
 * A hive with BOT-A registered; contexts share one clock, each has its own Store (as processes do).
 * These tests crash the folder's own code between its appends and write its records by hand: the
 * hive is a 0.1 folder (makeFolderLayout), run by that code. (The storage interface commits a
 * transition and its outcome together: see the last test.)
 */
function hive() {
  const dir = makeFolderLayout(tempHive('deia-outcome-').dir);
  configure(dir, { health: { measure_system: false } });
  expect(deia(['register', 'BOT-A'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(false);
  const clock = { now: T0 };
  const ids = sequentialIds('t');
  const as = (who: string): HiveContext => createContext({ dir, as: who, clock: () => clock.now, ids, random: () => 0.5, env: {} });
  return { dir, clock, as };
}

/** A context whose store "dies" (throws) on the first append to `file` for which `when` holds. */
function crashingOn(ctx: HiveContext, file: string, when: (records: readonly unknown[]) => boolean = () => true): HiveContext {
  const orig = ctx.store.appendHeld.bind(ctx.store);
  let crashed = false;
  ctx.store.appendHeld = (rel, records) => {
    if (!crashed && rel === file && records.length > 0 && when(records)) {
      crashed = true;
      throw new Error(`simulated crash before appending to ${rel}`);
    }
    return orig(rel, records);
  };
  return ctx;
}

const perf = (dir: string) => (fs.existsSync(path.join(dir, 'performance.jsonl')) ? readJsonl(path.join(dir, 'performance.jsonl')) : []);
const isTransition = (records: readonly unknown[]) => records.some((r: any) => r.event === 'done' || r.event === 'failed');

describe('a finished task records its outcome exactly once (rule 6)', () => {
  it('dies before appending the done transition: the retry records one outcome, not two', async () => {
    const h = hive();
    const t = await submitTask(h.as('LEAD'), { description: 'fix it', type: 'code', to: 'BOT-A' });
    await startTask(h.as('BOT-A'), t.task_id);
    h.clock.now += 60_000;
    const dying = crashingOn(h.as('BOT-A'), 'tasks.jsonl', isTransition);
    await expect(finishTask(dying, t.task_id, { success: true })).rejects.toThrow(/simulated crash/);
    // The bot retries, as a bot whose command failed does.
    const done = await finishTask(h.as('BOT-A'), t.task_id, { success: true, tokens: 5 });
    expect(done.status).toBe('done');
    const p = perf(h.dir);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ task_id: t.task_id, attempt: 1, bot_id: 'BOT-A', success: true, tokens: 5, duration_ms: 60_000 });
  });

  it('dies after the done transition, before the outcome: the next task command (a real dispatch) records it once', async () => {
    const h = hive();
    const t = await submitTask(h.as('LEAD'), { description: 'fix it', type: 'code', to: 'BOT-A' });
    h.clock.now += 30_000;
    const dying = crashingOn(h.as('BOT-A'), 'performance.jsonl');
    await expect(finishTask(dying, t.task_id, { success: false, reason: 'no GPU' })).rejects.toThrow(/simulated crash/);
    expect(perf(h.dir)).toHaveLength(0);
    // The transition is stored: retrying it is refused, and still repairs the outcome.
    const again = deia(['task', 'fail', t.task_id, '--as', 'BOT-A'], { dir: h.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already failed/);
    expect(perf(h.dir)).toMatchObject([{ task_id: t.task_id, attempt: 1, success: false, duration_ms: 30_000 }]);
    // Later commands find it settled.
    for (let i = 0; i < 2; i++) expect(deia(['task', 'dispatch'], { dir: h.dir }).code).toBe(0);
    expect(perf(h.dir)).toHaveLength(1);
    expect(json(['task', 'show', t.task_id], h.dir)).toMatchObject({ status: 'failed', reason: 'no GPU' });
  });

  it('a done transition written by hand (the first half of a finish) gets its outcome from dispatch, once', () => {
    const dir = makeFolderLayout(tempHive('deia-outcome-').dir); // the folder's own records, written by hand: a 0.1 folder
    configure(dir, { health: { measure_system: false } });
    deia(['register', 'BOT-A'], { dir });
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    const done = {
      event: 'done',
      task_id: t.task_id,
      timestamp: new Date().toISOString(),
      bot_id: 'BOT-A',
      duration_ms: 1234,
      tokens: 7,
      attempt: 1,
      perf_from: { offset: 0 },
    };
    fs.appendFileSync(path.join(dir, 'tasks.jsonl'), JSON.stringify(done) + '\n');
    expect(json(['task', 'show', t.task_id], dir).status).toBe('done');
    expect(perf(dir)).toHaveLength(0); // reading commands do not repair: they write nothing
    expect(deia(['task', 'dispatch'], { dir }).code).toBe(0);
    expect(deia(['task', 'dispatch'], { dir }).code).toBe(0);
    expect(perf(dir)).toMatchObject([{ task_id: t.task_id, attempt: 1, success: true, duration_ms: 1234, tokens: 7 }]);
    const marks = readJsonl(path.join(dir, 'tasks.jsonl')).filter((r: any) => r.event === 'outcome');
    expect(marks).toMatchObject([{ task_id: t.task_id, attempt: 1 }]);
  });

  it('an outcome stored before the crash (no mark yet) is found, not recorded again', () => {
    const dir = makeFolderLayout(tempHive('deia-outcome-').dir); // the folder's own records, written by hand: a 0.1 folder
    configure(dir, { health: { measure_system: false } });
    deia(['register', 'BOT-A'], { dir });
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    const ts = new Date().toISOString();
    fs.appendFileSync(
      path.join(dir, 'tasks.jsonl'),
      JSON.stringify({ event: 'done', task_id: t.task_id, timestamp: ts, bot_id: 'BOT-A', duration_ms: 5, tokens: null, attempt: 1, perf_from: { offset: 0 } }) + '\n',
    );
    const stored = { timestamp: ts, bot_id: 'BOT-A', task_type: 'code', success: true, duration_ms: 5, tokens: null, task_id: t.task_id, attempt: 1 };
    fs.appendFileSync(path.join(dir, 'performance.jsonl'), JSON.stringify(stored) + '\n');
    expect(deia(['task', 'submit', 'y', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], { dir }).code).toBe(0);
    expect(deia(['task', 'dispatch'], { dir }).code).toBe(0);
    expect(perf(dir)).toEqual([stored]);
  });

  it('a retried failure and the later success are two outcomes, keyed by attempt', async () => {
    const h = hive();
    expect(deia(['register', 'BOT-B'], { dir: h.dir }).code).toBe(0);
    const t = await submitTask(h.as('LEAD'), { description: 'fix it', type: 'code', to: 'BOT-A' });
    const r = await finishTask(h.as('BOT-A'), t.task_id, { success: false, retry: true });
    expect(r).toMatchObject({ status: 'assigned', reassigned_to: 'BOT-B', attempts: 2 });
    await finishTask(h.as('BOT-B'), t.task_id, { success: true });
    expect(deia(['task', 'dispatch'], { dir: h.dir }).code).toBe(0);
    expect(perf(h.dir).map((p: any) => [p.bot_id, p.attempt, p.success])).toEqual([
      ['BOT-A', 1, false],
      ['BOT-B', 2, true],
    ]);
  });

  it('in the layout a new folder starts in, each finish records its outcome once, keyed by attempt; a repeated finish is refused and records nothing', () => {
    const { dir } = tempHive('deia-outcome-');
    configure(dir, { health: { measure_system: false } });
    for (const b of ['BOT-A', 'BOT-B']) expect(deia(['register', b], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    const t = json(['task', 'submit', 'fix it', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir);
    expect(json(['task', 'fail', t.task_id, '--retry', '--reason', 'no GPU', '--as', 'BOT-A'], dir)).toMatchObject({ status: 'assigned', reassigned_to: 'BOT-B', attempts: 2 });
    expect(json(['task', 'done', t.task_id, '--tokens', '7', '--as', 'BOT-B'], dir).status).toBe('done');
    const again = deia(['task', 'done', t.task_id, '--as', 'BOT-B'], { dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already done/);
    for (let i = 0; i < 2; i++) expect(deia(['task', 'dispatch'], { dir }).code).toBe(0);
    expect(perf(dir).map((p: any) => [p.task_id, p.bot_id, p.attempt, p.success, p.tokens])).toEqual([
      [t.task_id, 'BOT-A', 1, false, null],
      [t.task_id, 'BOT-B', 2, true, 7],
    ]);
    const marks = readJsonl(path.join(dir, 'tasks.jsonl')).filter((r: any) => r.event === 'outcome');
    expect(marks).toMatchObject([
      { task_id: t.task_id, attempt: 1 },
      { task_id: t.task_id, attempt: 2 },
    ]);
  });
});
