import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { logLines } from './helpers/logs.js';
import { configure, json } from './helpers/tasks.js';

/**
 * A finished task's outcome (its line in performance.jsonl, which routing learns from) is stored
 * exactly once, whatever happens to the process finishing it. In the layout a new folder starts
 * in, a finish is one transaction over several files (the task's transition, its outcome, the
 * fold and routing's documents) made all or nothing by the redo journal txn/<id>.json: these
 * tests kill real `deia task done` processes in the middle of it (DEIA_FAULT=file-txn-kill:1
 * kills right after the first file is written; the last test kills at random moments).
 */

interface Journal {
  files: string[];
  appends: Array<{ rel: string; at: number; records: unknown[] }>;
  docs: Array<{ rel: string; version: number; value: unknown }>;
}

/** A new folder with BOT-A (and `more`) registered and one task submitted by LEAD to BOT-A. */
function hive(more: string[] = []) {
  const { root, dir } = tempHive('deia-outcome-');
  configure(dir, { health: { measure_system: false } });
  for (const b of ['BOT-A', ...more]) expect(deia(['register', b], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  const t = json(['task', 'submit', 'fix it', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], dir);
  return { root, dir, t };
}

const file = (dir: string, rel: string) => path.join(dir, rel);
const journals = (dir: string) => (fs.existsSync(file(dir, 'txn')) ? fs.readdirSync(file(dir, 'txn')).filter((f) => f.endsWith('.json')) : []);
const outcomesOf = async (dir: string, id: string) => (await logLines(dir, 'performance')).filter((p) => p.task_id === id);
const eventsOf = async (dir: string, id: string, event: string) => (await logLines(dir, 'tasks')).filter((r) => r.task_id === id && r.event === event);

/** `deia task done` killed halfway through its transaction: the journal it leaves, checked to be torn. */
function killedMidFinish(dir: string, taskId: string, extra: string[] = []): Journal {
  const killed = deia(['task', 'done', taskId, ...extra, '--as', 'BOT-A'], { dir, env: { DEIA_FAULT: 'file-txn-kill:1' } });
  expect(killed.code, killed.stderr).not.toBe(0);
  expect(killed.stdout).toBe('');
  const [name, ...rest] = journals(dir);
  expect(rest).toEqual([]);
  const journal = JSON.parse(fs.readFileSync(file(dir, `txn/${name}`), 'utf8')) as Journal;
  // The finish's transition and its outcome are in one transaction.
  expect(journal.files).toEqual(expect.arrayContaining(['tasks.jsonl', 'performance.jsonl']));
  // Torn: the outcome is not stored yet.
  expect(readJsonl(file(dir, 'performance.jsonl')).filter((p) => p.task_id === taskId)).toEqual([]);
  return journal;
}

describe('a finished task records its outcome exactly once (rule 6)', () => {
  it('killed in the middle of finishing: the retry is refused as already done, and the outcome is stored once, with what the killed run said', async () => {
    const h = hive();
    try {
      json(['task', 'start', h.t.task_id, '--as', 'BOT-A'], h.dir);
      killedMidFinish(h.dir, h.t.task_id, ['--tokens', '5']);
      // The bot retries, as a bot whose command failed does: the killed run's finish stands.
      const again = deia(['task', 'done', h.t.task_id, '--tokens', '9', '--as', 'BOT-A'], { dir: h.dir });
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already done/);
      expect(journals(h.dir)).toEqual([]);
      for (let i = 0; i < 2; i++) expect(deia(['task', 'dispatch'], { dir: h.dir }).code).toBe(0);
      expect(await outcomesOf(h.dir, h.t.task_id)).toMatchObject([{ task_id: h.t.task_id, attempt: 1, bot_id: 'BOT-A', success: true, tokens: 5 }]);
      expect(await eventsOf(h.dir, h.t.task_id, 'done')).toHaveLength(1);
      expect(await eventsOf(h.dir, h.t.task_id, 'outcome')).toMatchObject([{ attempt: 1 }]);
      expect(json(['task', 'show', h.t.task_id], h.dir)).toMatchObject({ status: 'done', tokens: 5 });
      expect(json(['stats', '--type', 'code'], h.dir)).toMatchObject([{ bot_id: 'BOT-A', samples: 1, successes: 1 }]);
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });

  it('killed in the middle of finishing, never retried: reading task commands write nothing, the next cleanup (cron) completes it once', async () => {
    const h = hive();
    try {
      killedMidFinish(h.dir, h.t.task_id, ['--tokens', '7']);
      const before = snapshotTree(h.dir);
      expect(deia(['task', 'list', '--json'], { dir: h.dir }).code).toBe(0);
      expect(deia(['task', 'show', h.t.task_id, '--json'], { dir: h.dir }).code).toBe(0);
      expect(deia(['inbox', 'LEAD', '--json'], { dir: h.dir }).code).toBe(0);
      expect(snapshotTree(h.dir)).toEqual(before); // reading commands do not repair: they write nothing
      // The next write to the files it names completes it first: here `deia cleanup`, which cron runs.
      for (let i = 0; i < 2; i++) expect(deia(['cleanup'], { dir: h.dir }).code).toBe(0);
      expect(journals(h.dir)).toEqual([]);
      expect(json(['task', 'show', h.t.task_id], h.dir)).toMatchObject({ status: 'done', tokens: 7 });
      expect(await outcomesOf(h.dir, h.t.task_id)).toMatchObject([{ task_id: h.t.task_id, attempt: 1, success: true, tokens: 7 }]);
      expect(await eventsOf(h.dir, h.t.task_id, 'done')).toHaveLength(1);
      expect(await eventsOf(h.dir, h.t.task_id, 'outcome')).toHaveLength(1);
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });

  it('killed after its outcome was stored, before the transition: the outcome is found, not recorded again', async () => {
    const h = hive();
    try {
      const journal = killedMidFinish(h.dir, h.t.task_id);
      // The process got further before it died: its documents and its outcome are written, the
      // task's transition is not (the state a kill between those appends leaves).
      for (const d of journal.docs) fs.writeFileSync(file(h.dir, d.rel), JSON.stringify({ version: d.version, value: d.value }));
      const perf = journal.appends.find((a) => a.rel === 'performance.jsonl')!;
      expect(fs.existsSync(file(h.dir, 'performance.jsonl')) ? fs.statSync(file(h.dir, 'performance.jsonl')).size : 0).toBe(perf.at);
      fs.appendFileSync(file(h.dir, 'performance.jsonl'), perf.records.map((r) => JSON.stringify(r) + '\n').join(''));
      expect(await eventsOf(h.dir, h.t.task_id, 'done')).toEqual([]);

      const again = deia(['task', 'done', h.t.task_id, '--as', 'BOT-A'], { dir: h.dir });
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already done/);
      expect(deia(['task', 'dispatch'], { dir: h.dir }).code).toBe(0);
      expect(await outcomesOf(h.dir, h.t.task_id)).toEqual(perf.records);
      expect(await eventsOf(h.dir, h.t.task_id, 'done')).toHaveLength(1);
      expect(await eventsOf(h.dir, h.t.task_id, 'outcome')).toHaveLength(1);
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });

  it('task done killed at random moments and retried until it answers: every task has exactly one finish and one outcome', async () => {
    const h = hive();
    try {
      const tasks = [h.t, ...Array.from({ length: 7 }, (_, i) => json(['task', 'submit', `job ${i}`, '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], h.dir))];
      // How long a finish takes when it runs to the end: the kills aim around it.
      const t0 = Date.now();
      expect(deia(['task', 'list', '--json'], { dir: h.dir }).code).toBe(0);
      const took = Date.now() - t0;
      const kills = { killed: 0, finished: 0 };
      for (const t of tasks) {
        const first = await killAfter(['--dir', h.dir, 'task', 'done', t.task_id, '--as', 'BOT-A'], Math.floor(took * (0.3 + 1.2 * Math.random())));
        kills[first.killed ? 'killed' : 'finished']++;
        if (!first.killed) expect(first.code).toBe(0);
        const again = deia(['task', 'done', t.task_id, '--as', 'BOT-A'], { dir: h.dir });
        if (first.killed) expect([0, 2], again.stderr).toContain(again.code);
        else expect(again.code).toBe(2);
        if (again.code === 2) expect(again.stderr).toMatch(/already done/);
      }
      expect(kills.killed).toBeGreaterThan(0);
      expect(deia(['task', 'dispatch'], { dir: h.dir }).code).toBe(0);
      expect(journals(h.dir)).toEqual([]);
      const perf = await logLines(h.dir, 'performance');
      const recs = await logLines(h.dir, 'tasks');
      for (const t of tasks) {
        expect(json(['task', 'show', t.task_id], h.dir).status).toBe('done');
        expect(perf.filter((p) => p.task_id === t.task_id)).toMatchObject([{ attempt: 1, success: true }]);
        expect(recs.filter((r) => r.task_id === t.task_id && r.event === 'done')).toHaveLength(1);
        expect(recs.filter((r) => r.task_id === t.task_id && r.event === 'outcome')).toHaveLength(1);
      }
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  }, 120_000);

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
    expect(readJsonl(path.join(dir, 'performance.jsonl')).map((p: any) => [p.task_id, p.bot_id, p.attempt, p.success, p.tokens])).toEqual([
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

/** Run the CLI and SIGKILL it after `ms` unless it ended first. */
function killAfter(args: string[], ms: number): Promise<{ code: number | null; killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainPath(), ...args], { env: { ...process.env, NO_COLOR: '1', DEIA_DIR: '', DEIA_BOT: '', AGENT_NAME: '' } });
    let stderr = '';
    let killed = false;
    child.stdout.on('data', () => undefined);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end();
    const timer = setTimeout(() => {
      killed = child.exitCode === null;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, killed, stderr });
    });
  });
}
