/**
 * Tasks (submit, dispatch, start, done, fail, list, show, and cleanup's dispatch) on every
 * backend: one suite with three fixtures, a new hive folder named by --dir (what users get by
 * default), a fresh PostgreSQL database (--store) and a folder named by URL (--store file://),
 * through real processes. The postgres fixture fails (never skips) without a server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';
import { configure } from './helpers/tasks.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const NOW = Date.parse('2026-01-01T12:00:00.000Z');
const at = (min: number) => ({ DEIA_NOW: String(NOW + min * 60_000) });

interface Fixture {
  kind: 'dir' | 'postgres' | 'interface';
  where: string;
  args: string[];
  cleanup: () => Promise<void>;
}

const fixtures: Array<{ kind: string; make: () => Promise<Fixture> }> = [
  {
    kind: 'dir',
    make: async () => {
      // A new folder named by --dir, nothing planted: the hive users get by default.
      const h = tempHive();
      const r = deia(['init', '--dir', h.dir]);
      if (r.code !== 0) throw new Error(r.stderr);
      // The folder would measure this machine's load as the acting bot's health: keep it out.
      configure(h.dir, { health: { measure_system: false } });
      return { kind: 'dir', where: h.dir, args: ['--dir', h.dir], cleanup: async () => fs.rmSync(h.root, { recursive: true, force: true }) };
    },
  },
  {
    kind: 'postgres',
    make: async () => {
      const db = await freshDatabase();
      const r = deia(['init', '--store', db.url]);
      if (r.code !== 0) throw new Error(r.stderr);
      return { kind: 'postgres', where: db.url, args: ['--store', db.url], cleanup: db.drop };
    },
  },
  {
    kind: 'file:// (interface)',
    make: async () => {
      const f = freshInterfaceFolder();
      configure(f.dir, { health: { measure_system: false } });
      return { kind: 'interface', where: f.url, args: ['--store', f.url], cleanup: f.drop };
    },
  },
];

async function logLines(where: string, log: string): Promise<Array<Record<string, unknown>>> {
  const b = await (await lib()).openBackend(where);
  try {
    const out: Array<Record<string, unknown>> = [];
    for await (const line of b.log(log).exportLines()) out.push(JSON.parse(line));
    return out;
  } finally {
    await b.close();
  }
}

describe.each(fixtures)('tasks on the $kind backend', ({ make }) => {
  let fx: Fixture;
  const run = (args: string[], opts: CliOptions = {}) => deia([...fx.args, ...args], opts);
  const json = (args: string[], env: Record<string, string> = {}) => {
    const r = run([...args, '--json'], { env });
    if (r.code !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('submit assigns the recommended bot, and its assignment message names the task', () => {
    for (const b of ['LEAD', 'BOT-A']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'fix', 'the', 'parser', '--type', 'code', '--as', 'LEAD'], at(0));
    // The submitter is never its own task's bot: BOT-A is the only other candidate.
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'BOT-A', task_type: 'code', submitted_by: 'LEAD', attempts: 1, description: 'fix the parser' });
    expect(t.recommendation).toMatchObject({ recommended_bot: 'BOT-A' });
    expect(t.message_id).toEqual(expect.any(String));
    const inbox = json(['inbox', 'BOT-A']);
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({ message_id: t.message_id, from_bot: 'LEAD', metadata: { kind: 'task_assignment', task_id: t.task_id, attempt: 1 } });
    expect(inbox[0].content).toBe(`task ${t.task_id} [code]: fix the parser`);
  });

  it('start, done and fail move the task and print it; a refusal is exit 2 and changes nothing', async () => {
    for (const b of ['LEAD', 'BOT-A', 'BOT-B']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], at(0));
    const stored = async () => [await logLines(fx.where, 'tasks'), await logLines(fx.where, 'performance')];
    const before = await stored();
    for (const cmd of ['start', 'done', 'fail']) {
      const wrong = run(['task', cmd, t.task_id, '--as', 'BOT-B']);
      expect(wrong.code, cmd).toBe(2);
      expect(wrong.stderr).toMatch(/^deia: task .* is assigned to BOT-A, not BOT-B \(/);
    }
    expect(await stored()).toEqual(before);
    const started = json(['task', 'start', t.task_id.slice(0, 8), '--as', 'BOT-A'], at(1));
    expect(started).toMatchObject({ task_id: t.task_id, status: 'in_progress', started_at: new Date(NOW + 60_000).toISOString() });
    const done = json(['task', 'done', t.task_id, '--tokens', '42', '--as', 'BOT-A'], at(3));
    expect(done).toMatchObject({ status: 'done', duration_ms: 120_000, tokens: 42, notified: true, reassigned_to: null });
    const again = run(['task', 'done', t.task_id, '--as', 'BOT-A']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already done/);
    const lead = json(['inbox', 'LEAD']);
    expect(lead.map((m: { content: string }) => m.content)).toEqual([`task ${t.task_id} done by BOT-A`]);

    const f = json(['task', 'submit', 'y', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], at(4));
    const retried = json(['task', 'fail', f.task_id, '--retry', '--reason', 'no GPU', '--as', 'BOT-A'], at(5));
    expect(retried).toMatchObject({ status: 'assigned', bot_id: 'BOT-B', attempts: 2, excluded: ['BOT-A'], reassigned_to: 'BOT-B', reason: 'no GPU' });
    expect(json(['inbox', 'BOT-B'])[0].metadata).toMatchObject({ task_id: f.task_id, attempt: 2 });
    const failed = json(['task', 'fail', f.task_id, '--reason', 'still no GPU', '--as', 'BOT-B'], at(6));
    expect(failed).toMatchObject({ status: 'failed', reason: 'still no GPU', finished_at: new Date(NOW + 360_000).toISOString() });
    // Every outcome is in routing's log once, with its task and attempt.
    const perf = (await logLines(fx.where, 'performance')).filter((r) => typeof r.success === 'boolean');
    expect(perf).toMatchObject([
      { bot_id: 'BOT-A', task_type: 'code', success: true, duration_ms: 120_000, tokens: 42, task_id: t.task_id, attempt: 1 },
      { bot_id: 'BOT-A', success: false, task_id: f.task_id, attempt: 1 },
      { bot_id: 'BOT-B', success: false, task_id: f.task_id, attempt: 2 },
    ]);
  });

  it('an outcome recorded by task done is seen by stats', () => {
    for (const b of ['LEAD', 'BOT-A']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'x', '--type', 'testing', '--to', 'BOT-A', '--as', 'LEAD'], at(0));
    json(['task', 'done', t.task_id, '--as', 'BOT-A'], at(2));
    const rows = json(['stats', '--type', 'testing']);
    expect(rows).toMatchObject([{ bot_id: 'BOT-A', task_type: 'testing', samples: 1, successes: 1, median_duration_ms: 120_000 }]);
  });

  it('a task taken back from a stale bot is withdrawn from its inbox and given to another; cleanup does the same', () => {
    for (const b of ['LEAD', 'BOT-A']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], at(0));
    json(['task', 'start', t.task_id, '--as', 'BOT-A'], at(1));
    expect(run(['register', 'BOT-B']).code).toBe(0);
    expect(json(['task', 'dispatch'], at(20))).toMatchObject({ redispatched: 0, stale: [] });
    const d = json(['task', 'dispatch'], at(40));
    expect(d).toMatchObject({ redispatched: 1, stale: [{ task_id: t.task_id, bot_id: 'BOT-A' }], withdrawn: [{ task_id: t.task_id, bot_id: 'BOT-A', message_id: t.message_id }] });
    expect(json(['inbox', 'BOT-A'])).toEqual([]); // the assignment is no longer handed out
    const all = json(['inbox', 'BOT-A', '--all']);
    expect(all).toMatchObject([{ message_id: t.message_id, status: 'read' }]);
    expect(json(['inbox', 'BOT-B'])[0].metadata).toMatchObject({ task_id: t.task_id, attempt: 2 });
    expect(json(['task', 'show', t.task_id])).toMatchObject({ status: 'assigned', bot_id: 'BOT-B', excluded: ['BOT-A'], taken_back_from: 'BOT-A' });
    const late = run(['task', 'done', t.task_id, '--as', 'BOT-A']);
    expect(late.code).toBe(2);
    expect(late.stderr).toMatch(/was taken back from BOT-A .* and is now given to BOT-B/);

    // cleanup (cron) takes back the next stale one too.
    json(['task', 'start', t.task_id, '--as', 'BOT-B'], at(41));
    expect(run(['register', 'BOT-C']).code).toBe(0);
    const c = json(['cleanup'], at(80));
    expect(c.tasks).toEqual({ dispatched: 0, redispatched: 1 });
    expect(json(['task', 'show', t.task_id])).toMatchObject({ status: 'assigned', bot_id: 'BOT-C', attempts: 3 });
    expect(json(['inbox', 'BOT-B'])).toEqual([]);
  });

  it('a CRITICAL bot\'s unstarted task is taken back and given to another; recommend shows tasks given out as load', () => {
    for (const b of ['LEAD', 'BOT-A', 'BOT-B']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'ship it', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], at(0));
    expect(t.bot_id).toBe('BOT-A');
    const load = (rec: { candidate_bots: Array<{ bot_id: string; load: number }> }, bot: string) => rec.candidate_bots.find((c) => c.bot_id === bot)?.load;
    expect(load(json(['recommend', 'code'], at(0)), 'BOT-A')).toBe(1);
    expect(json(['health', 'record', 'cpu', '99', '--bot', 'BOT-A'], at(1)).level).toBe('CRITICAL');
    const d = json(['task', 'dispatch'], at(2));
    expect(d.stale).toEqual([expect.objectContaining({ task_id: t.task_id, bot_id: 'BOT-A' })]);
    expect(d.withdrawn).toEqual([expect.objectContaining({ task_id: t.task_id, bot_id: 'BOT-A', message_id: t.message_id })]);
    expect(json(['task', 'show', t.task_id], at(2))).toMatchObject({ status: 'assigned', bot_id: 'BOT-B' });
    expect(json(['inbox', 'BOT-A'], at(2))).toEqual([]);
    expect(load(json(['recommend', 'code'], at(2)), 'BOT-B')).toBe(1);
  });

  it('8 processes start the same task at once: exactly one succeeds', async () => {
    for (const b of ['LEAD', 'BOT-A']) expect(run(['register', b]).code).toBe(0);
    const t = json(['task', 'submit', 'x', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD']);
    const rs = await Promise.all(Array.from({ length: 8 }, () => deiaAsync([...fx.args, 'task', 'start', t.task_id, '--as', 'BOT-A', '--json'])));
    const ok = rs.filter((r) => r.code === 0);
    expect(ok).toHaveLength(1);
    expect(JSON.parse(ok[0]!.stdout)).toMatchObject({ status: 'in_progress' });
    for (const r of rs.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is already in progress/);
    }
    const started = (await logLines(fx.where, 'tasks')).filter((r) => r.event === 'started');
    expect(started).toHaveLength(1);
  }, 120_000);
});

describe('task --json is the same on every backend', () => {
  const made: Fixture[] = [];
  afterAll(async () => {
    for (const f of made) await f.cleanup();
  });

  /** One scripted session: every command's exit code and --json output, ids replaced in order of appearance. */
  function session(fx: Fixture) {
    const out: Array<{ code: number; doc: unknown; err: string }> = [];
    const ids = new Map<string, string>();
    const norm = (text: string) => text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `ID${ids.size}`);
      return ids.get(id)!;
    });
    let last: Record<string, string> = {};
    const step = (args: string[], min: number, withJson = true, input?: string) => {
      const r = deia([...fx.args, ...args, ...(withJson ? ['--json'] : [])], { env: at(min), input });
      const doc = r.stdout ? JSON.parse(norm(r.stdout)) : null;
      out.push({ code: r.code, doc, err: norm(r.stderr).replace(/\(chosen by.*$/m, '') });
      if (r.code === 0 && doc && typeof doc === 'object' && !Array.isArray(doc)) last = JSON.parse(r.stdout);
      return last;
    };
    for (const b of ['LEAD', 'BOT-A', 'BOT-B']) deia([...fx.args, 'register', b], { env: at(0) });
    const a = step(['task', 'submit', 'fix the parser', '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD'], 0);
    const b = step(['task', 'submit', 'write the notes', '--type', 'documentation', '--to', 'BOT-B', '--priority', 'P1', '--as', 'LEAD'], 0);
    const c = step(['task', 'submit', 'benchmark it', '--type', 'analysis', '--to', 'BOT-A', '--as', 'LEAD'], 1);
    step(['task', 'start', a.task_id!, '--as', 'BOT-B'], 2);
    step(['task', 'start', a.task_id!, '--as', 'BOT-A'], 2);
    step(['task', 'done', a.task_id!.slice(0, 8), '--tokens', '10', '--as', 'BOT-A'], 4);
    step(['task', 'fail', b.task_id!, '--reason', 'no access', '--retry', '--as', 'BOT-B'], 5);
    step(['task', 'list'], 6);
    step(['task', 'list', '--status', 'assigned'], 6);
    step(['task', 'list', '--bot', 'BOT-A', '--limit', '1'], 6);
    step(['task', 'show', a.task_id!], 6);
    step(['task', 'show', c.task_id!.slice(0, 6)], 6);
    step(['task', 'show', 'nope'], 6);
    step(['task', 'dispatch'], 60);
    step(['task', 'list', '--status', 'queued'], 60);
    step(['task', 'done', c.task_id!, '--as', 'BOT-A'], 61);
    step(['stats'], 62);
    step(['scale'], 62);
    step(['task', 'submit', '--stdin-jsonl', '--as', 'LEAD'], 63, true, '{"description": "a", "type": "code"}\n{"description": "b", "priority": "P9"}\n');
    step(['task', 'submit', '--stdin-jsonl', '--type', 'testing', '--as', 'LEAD'], 63, true, '{"description": "c", "to": "BOT-B"}\n{"description": "d", "to": "BOT-B"}\n');
    step(['task', 'list', '--type', 'testing'], 64);
    step(['scale'], 64);
    return out;
  }

  it('submit, start, done, fail, list, show and dispatch give the same documents, exit codes and errors', async () => {
    for (const f of fixtures) made.push(await f.make());
    const [file, pg, iface] = [session(made[0]!), session(made[1]!), session(made[2]!)]; // file: the --dir folder
    expect(file.map((s) => s.code)).toEqual([0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 2, 0, 0, 0]);
    expect(pg).toEqual(file);
    expect(iface).toEqual(file);
    const q = (file[17]!.doc as { action: string; queue_depth: Record<string, number> });
    expect(q.action).toBe('steady');
    expect(q.queue_depth.total).toBe(q.queue_depth.queued! + q.queue_depth.assigned_not_started! + q.queue_depth.urgent_unread!);
    expect(q.queue_depth.assigned_not_started).toBe(2); // b and c, both given out again by the dispatch at 60 min
    expect(file[21]!.doc).toMatchObject({ queue_depth: { assigned_not_started: 4 } });
    expect(file[20]!.doc).toMatchObject([{ description: 'c', bot_id: 'BOT-B' }, { description: 'd', bot_id: 'BOT-B' }]);
    // The records: every backend's `tasks` log holds the same events (perf_from, where a backend
    // keeps one, is left out of the comparison), as do the routing logs.
    const records = async (fx: Fixture, log: string) => {
      const ids = new Map<string, string>();
      const text = JSON.stringify(await logLines(fx.where, log)).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
        if (!ids.has(id)) ids.set(id, `ID${ids.size}`);
        return ids.get(id)!;
      });
      return (JSON.parse(text) as Array<Record<string, unknown>>).map(({ perf_from: _p, ...r }) => r);
    };
    for (const other of made.slice(1)) {
      expect(await records(other, 'tasks')).toEqual(await records(made[0]!, 'tasks'));
      expect(await records(other, 'performance')).toEqual(await records(made[0]!, 'performance'));
    }
    const events = async (fx: Fixture) => (await logLines(fx.where, 'adaptive-scheduling')).map((e) => e.event);
    for (const other of made.slice(1)) expect(await events(other)).toEqual(await events(made[0]!));
  }, 120_000);
});

describe.each(fixtures)('scale --exec on the $kind backend', ({ kind, make }) => {
  it('runs the configured command for the advice, tells it where the hive is, and one cooldown holds back every scaler', async () => {
    const fx = await make();
    const dirs: string[] = [];
    try {
      // The settings come from a folder's config.json. On a store, two folders stand for two
      // machines running `scale --exec` against the same hive; on a --dir folder both are the hive.
      const settings = () => {
        if (kind === 'dir') return { args: fx.args, dir: fx.where };
        const h = tempHive();
        dirs.push(h.root);
        return { args: [...fx.args, '--dir', h.dir], dir: h.dir };
      };
      const [one, two] = [settings(), settings()];
      const marker = path.join(fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'deia-scale-')), 'spawned.txt');
      dirs.push(path.dirname(marker));
      for (const s of [one, two]) {
        configure(s.dir, {
          health: { measure_system: false },
          scaling: { scale_up_queue_depth: 4, max_step: 1, spawn_command: `echo {bot} {type} "$DEIA_STORE" >> ${marker}` },
        });
      }
      const json = (args: string[], s: typeof one, min: number) => {
        const r = deia([...s.args, ...args, '--json'], { env: at(min) });
        if (r.code !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
        return JSON.parse(r.stdout);
      };
      for (let i = 0; i < 4; i++) json(['task', 'submit', `t${i}`, '--type', 'testing', '--as', 'LEAD'], one, 0);
      expect(json(['scale'], one, 1)).toMatchObject({ action: 'up', exec: false, executed: [] });
      const ran = json(['scale', '--exec'], one, 2);
      expect(ran).toMatchObject({ action: 'up', exec: true, executed: [{ action: 'spawn', bot_id: 'BOT-001', task_type: 'testing' }] });
      const deadline = Date.now() + 5000;
      while (!fs.existsSync(marker) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      // The bot started is pointed at the same hive: DEIA_STORE names it (a --dir folder by its file:// URL).
      expect(fs.readFileSync(marker, 'utf8').trim()).toBe(`BOT-001 testing ${kind === 'dir' ? pathToFileURL(fx.where).href : fx.where}`);
      // The other scaler sees the cooldown that run started, and runs nothing.
      expect(json(['scale', '--exec'], two, 3)).toMatchObject({ action: 'steady', held_back: 'up', executed: [] });
      expect(await logLines(fx.where, 'scaling')).toMatchObject([{ event: 'scale_spawn', bot_id: 'BOT-001', task_type: 'testing' }]);
      // After the cooldown (5 min) the advice is given again.
      expect(json(['scale'], two, 8)).toMatchObject({ action: 'up', held_back: null });
    } finally {
      await fx.cleanup();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});
