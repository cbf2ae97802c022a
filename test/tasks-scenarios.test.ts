/**
 * The five integration scenarios of issue 6, with real processes. Scenarios 1-4 run on every
 * backend (a new folder named by --dir, PostgreSQL with the same settings, and the folder named
 * by --store file://); 5 is about a hive whose files were written before tasks existed, so it
 * runs in a folder only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, tempHive } from './helpers/cli.js';
import { logLines } from './helpers/logs.js';
import { freshDatabase } from './helpers/pg.js';
import { pathToFileURL } from 'node:url';
import { configure, json, startBot, stopBots } from './helpers/tasks.js';

const TYPES = ['code', 'testing', 'documentation', 'analysis'];
const BOTS = ['BOT-W', 'BOT-X', 'BOT-Y', 'BOT-Z'];

/** Where scenarios run: a folder, or a fresh PostgreSQL database with its settings in a folder's config.json. */
interface Hive {
  dir: string;
  where: string;
  /** The arguments naming the store (`--store URL`), or none for a folder. */
  store: string[];
  cli: (args: string[], input?: string) => ReturnType<typeof deia>;
  json: (args: string[]) => any;
  done: () => Promise<void>;
}

async function makeHive(kind: string): Promise<Hive> {
  const { dir } = tempHive();
  // 'dir': a new folder named by --dir (what users get by default); 'interface': the same kind of folder, named by file://.
  configure(dir, {});
  const db = kind === 'postgres' ? await freshDatabase() : undefined;
  const url = db?.url ?? (kind === 'interface' ? pathToFileURL(dir).href : undefined);
  const store = url ? ['--store', url] : [];
  if (db) expect(deia(['init', ...store], { dir }).code).toBe(0);
  const cli = (args: string[], input?: string) => deia([...store, ...args], { dir, input });
  return {
    dir,
    where: url ?? dir,
    store,
    cli,
    json: (args) => {
      const r = cli([...args, '--json']);
      if (r.code !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    done: async () => db?.drop(),
  };
}

describe.each(['dir', 'postgres', 'interface'])('integration scenarios on the %s backend', (kind) => {
  let h: Hive;
  beforeEach(async () => {
    h = await makeHive(kind);
  });
  afterEach(async () => {
    await h.done();
  });

  it('1. messaging + routing: the assignment reaches exactly the recommended bot, and the task names the message', async () => {
    configure(h.dir, { health: { measure_system: false } });
    for (const b of ['BOT-A', 'BOT-B', 'BOT-C']) h.cli(['register', b]);
    // History: BOT-B is the one who gets code right.
    for (let i = 0; i < 6; i++) {
      h.cli(['record', 'BOT-A', 'code', i < 2 ? '--success' : '--failure', '--duration', '900']);
      h.cli(['record', 'BOT-B', 'code', '--success', '--duration', '300']);
      h.cli(['record', 'BOT-C', 'code', i < 3 ? '--success' : '--failure', '--duration', '600']);
    }
    const rec = h.json(['recommend', 'code']);
    expect(rec.recommended_bot).toBe('BOT-B');
    const t = h.json(['task', 'submit', 'implement the export endpoint', '--type', 'code', '--as', 'LEAD']);
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'BOT-B' });
    const inboxB = h.json(['inbox', 'BOT-B']);
    expect(inboxB).toHaveLength(1);
    expect(inboxB[0]).toMatchObject({ message_id: t.message_id, to_bot: 'BOT-B', from_bot: 'LEAD' });
    expect(inboxB[0].metadata.task_id).toBe(t.task_id);
    expect(h.json(['inbox', 'BOT-A'])).toEqual([]);
    expect(h.json(['inbox', 'BOT-C'])).toEqual([]);
    const stored = (await logLines(h.where, 'tasks')).filter((r) => r.event === 'message');
    expect(stored).toEqual([expect.objectContaining({ task_id: t.task_id, message_id: t.message_id })]);
  });

  it('2. routing + health: a CRITICAL bot gets no new tasks, and is eligible again after recovery', () => {
    // Only cpu decides health here (B's 40 % failures must not make it CRITICAL too).
    configure(h.dir, { health: { measure_system: false, error_rate_warn: 99, error_rate_critical: 100, task_error_margin_warn: 100, task_error_margin_critical: 100 } });
    for (const b of ['BOT-A', 'BOT-B']) h.cli(['register', b]);
    // A history lopsided enough that routing's sampling picks BOT-A whenever it is eligible.
    const outcomes = [
      ...Array.from({ length: 12 }, () => ({ bot: 'BOT-A', type: 'testing', success: true, durationMs: 200 })),
      ...Array.from({ length: 12 }, (_, i) => ({ bot: 'BOT-B', type: 'testing', success: i === 0, durationMs: 200 })),
    ];
    const rec = h.cli(['record', '--stdin-jsonl'], outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n');
    expect(rec.code, rec.stderr).toBe(0);
    expect(h.json(['task', 'submit', 'a', '--type', 'testing', '--as', 'LEAD']).bot_id).toBe('BOT-A');
    expect(h.cli(['health', 'record', 'cpu', '99', '--bot', 'BOT-A']).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(h.json(['task', 'submit', `b${i}`, '--type', 'testing', '--as', 'LEAD']).bot_id).toBe('BOT-B');
    }
    expect(h.cli(['health', 'record', 'cpu', '10', '--bot', 'BOT-A']).code).toBe(0);
    expect(h.json(['task', 'submit', 'c', '--type', 'testing', '--as', 'LEAD']).bot_id).toBe('BOT-A');
  });

  it('3. messaging + health: queue depth over the threshold raises the queue_depth alert, and scale says up', async () => {
    configure(h.dir, {
      health: { measure_system: false, queue_depth_warn: 5, queue_depth_critical: 50 },
      scaling: { scale_up_queue_depth: 5 },
    });
    h.cli(['register', 'BOT-A']);
    for (let i = 0; i < 6; i++) expect(h.cli(['send', 'BOT-A', `urgent ${i}`, '--priority', 'P1', '--as', 'LEAD']).code).toBe(0);
    const health = h.cli(['health', '--json']);
    expect(health.code).toBe(1); // DEGRADED
    const alerts = await logLines(h.where, 'health-alerts');
    expect(alerts.some((a) => JSON.stringify(a).includes('queue_depth'))).toBe(true);
    const s = h.json(['scale']);
    expect(s.action).toBe('up');
    expect(s.queue_depth.urgent_unread).toBeGreaterThanOrEqual(6);
    expect(s.reasons.join(' ')).toMatch(/queue depth/);
  });

  it('4. all together: 4 bot processes and a submitter, 200 tasks, each finished once, routing learns', async () => {
    configure(h.dir, { health: { measure_system: false, error_rate_warn: 40, error_rate_critical: 90 } });
    for (const b of BOTS) h.cli(['register', b]);
    // Each bot is (secretly) good at one type and poor at the others.
    const bots = BOTS.map((b, i) =>
      startBot(h.dir, b, {
        skill: Object.fromEntries(TYPES.map((t, j) => [t, i === j ? 0.97 : 0.3])),
        speed: Object.fromEntries(TYPES.map((t) => [t, 0])),
      }, h.store),
    );
    const N = 200;
    const types = Array.from({ length: N }, (_, i) => TYPES[i % TYPES.length]!);
    const finished = (ts: any[]) => ts.every((t) => t.status === 'done' || t.status === 'failed');
    const deadline = Date.now() + 45_000;
    let tasks: any[] = [];
    const submitted: any[] = [];
    // The submitter sends the stream in 4 rounds of 50 (one process each, submitting while the
    // bots work), and waits for a round to be worked off before the next: the bots' outcomes
    // of one round are what routing learns from for the next.
    for (let round = 0; round < 4; round++) {
      const input = types
        .slice(round * 50, round * 50 + 50)
        .map((type, i) => JSON.stringify({ description: `job ${round * 50 + i}`, type }))
        .join('\n');
      const sub = await deiaAsync([...h.store, 'task', 'submit', '--stdin-jsonl', '--as', 'LEAD', '--json'], { dir: h.dir, input: input + '\n' });
      expect(sub.code, sub.stderr).toBe(0);
      submitted.push(...JSON.parse(sub.stdout));
      for (;;) {
        tasks = h.json(['task', 'list']);
        if (finished(tasks) || Date.now() > deadline) break;
        if (tasks.some((t) => t.status === 'queued')) h.cli(['task', 'dispatch']);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(submitted).toHaveLength(N);
    const logs = await stopBots(h.dir, bots);
    expect(tasks, logs.join('\n')).toHaveLength(N);
    expect(tasks.filter((t) => t.status !== 'done' && t.status !== 'failed')).toEqual([]);

    // Exactly one finish per task in the tasks log, exactly one outcome per task in performance.
    const recs = await logLines(h.where, 'tasks');
    const finishes = new Map<string, number>();
    for (const r of recs) if (r.event === 'done' || r.event === 'failed') finishes.set(r.task_id as string, (finishes.get(r.task_id as string) ?? 0) + 1);
    expect(finishes.size).toBe(N);
    expect([...finishes.values()].every((n) => n === 1)).toBe(true);
    const perf = await logLines(h.where, 'performance');
    const outcomes = new Map<string, number>();
    for (const p of perf) outcomes.set(p.task_id as string, (outcomes.get(p.task_id as string) ?? 0) + 1);
    expect(outcomes.size).toBe(N);
    expect([...outcomes.values()].every((n) => n === 1)).toBe(true);

    // Routing shifts toward the better bot per type.
    const byId = new Map(tasks.map((t) => [t.task_id, t]));
    const ordered = submitted.map((s) => byId.get(s.task_id)!);
    const toBest = (ts: any[]) => ts.filter((t) => t.bot_id === BOTS[TYPES.indexOf(t.task_type)]).length / ts.length;
    const first = toBest(ordered.slice(0, 50));
    const last = toBest(ordered.slice(-50));
    // Routing learns within the first round already (its bots record as they go), so the last
    // round may tie with it (CI saw 0.68 and 0.68); it must not fall behind.
    expect(last).toBeGreaterThanOrEqual(first);
    // Chance alone would give 25 % (23 or more of 50 by chance: about 1 in 800); learning routes
    // clearly more of the last round to the best bot.
    expect(last).toBeGreaterThanOrEqual(0.46);
  });

});

describe('integration scenarios about a folder\'s files', () => {
  it('5. backward compatibility: a hive written before tasks existed still reads, and tasks work in it', () => {
    const { dir } = tempHive();
    // Files as the earlier commands write them, and no tasks.jsonl at all.
    expect(deia(['init'], { dir }).code).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    delete cfg.tasks;
    delete cfg.scaling;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    expect(deia(['send', 'BOT-A', 'hello', '--as', 'LEAD'], { dir }).code).toBe(0);
    deia(['register', 'BOT-A'], { dir });
    expect(deia(['record', 'BOT-A', 'code', '--success'], { dir }).code).toBe(0);
    expect(json(['task', 'list'], dir)).toEqual([]);
    expect(json(['scale'], dir).action).toBe('steady');
    const t = json(['task', 'submit', 'x', '--type', 'code', '--as', 'LEAD'], dir);
    expect(t.bot_id).toBe('BOT-A');
    expect(json(['inbox', 'BOT-A'], dir).length).toBe(2);
    // A torn last line in tasks.jsonl (a crashed writer) is skipped with a warning, not a crash.
    fs.appendFileSync(path.join(dir, 'tasks.jsonl'), '{"event":"started","task_');
    const r = deia(['task', 'list', '--json'], { dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect(json(['task', 'done', t.task_id, '--as', 'BOT-A'], dir).status).toBe('done');
  });
});
