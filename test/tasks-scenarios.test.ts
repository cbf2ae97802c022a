/**
 * The five integration scenarios of issue 6, with real processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, tempHive } from './helpers/cli.js';
import { configure, json, startBot, stopBots } from './helpers/tasks.js';

const TYPES = ['code', 'testing', 'documentation', 'analysis'];
const BOTS = ['BOT-W', 'BOT-X', 'BOT-Y', 'BOT-Z'];

describe('integration scenarios', () => {
  it('1. messaging + routing: the assignment reaches exactly the recommended bot, and the task names the message', () => {
    const { dir } = tempHive();
    configure(dir, { health: { measure_system: false } });
    for (const b of ['BOT-A', 'BOT-B', 'BOT-C']) deia(['register', b], { dir });
    // History: BOT-B is the one who gets code right.
    for (let i = 0; i < 6; i++) {
      deia(['record', 'BOT-A', 'code', i < 2 ? '--success' : '--failure', '--duration', '900'], { dir });
      deia(['record', 'BOT-B', 'code', '--success', '--duration', '300'], { dir });
      deia(['record', 'BOT-C', 'code', i < 3 ? '--success' : '--failure', '--duration', '600'], { dir });
    }
    const rec = json(['recommend', 'code'], dir);
    expect(rec.recommended_bot).toBe('BOT-B');
    const t = json(['task', 'submit', 'implement the export endpoint', '--type', 'code', '--as', 'LEAD'], dir);
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'BOT-B' });
    const inboxB = json(['inbox', 'BOT-B'], dir);
    expect(inboxB).toHaveLength(1);
    expect(inboxB[0]).toMatchObject({ message_id: t.message_id, to_bot: 'BOT-B', from_bot: 'LEAD' });
    expect(inboxB[0].metadata.task_id).toBe(t.task_id);
    expect(json(['inbox', 'BOT-A'], dir)).toEqual([]);
    expect(json(['inbox', 'BOT-C'], dir)).toEqual([]);
    const stored = readJsonl(path.join(dir, 'tasks.jsonl')).filter((r) => r.event === 'message');
    expect(stored).toEqual([expect.objectContaining({ task_id: t.task_id, message_id: t.message_id })]);
  });

  it('2. routing + health: a CRITICAL bot gets no new tasks, and is eligible again after recovery', () => {
    const { dir } = tempHive();
    // Only cpu decides health here (B's 40 % failures must not make it CRITICAL too).
    configure(dir, { health: { measure_system: false, error_rate_warn: 99, error_rate_critical: 100, task_error_margin_warn: 100, task_error_margin_critical: 100 } });
    for (const b of ['BOT-A', 'BOT-B']) deia(['register', b], { dir });
    // A history lopsided enough that routing's sampling picks BOT-A whenever it is eligible.
    const outcomes = [
      ...Array.from({ length: 12 }, () => ({ bot: 'BOT-A', type: 'testing', success: true, durationMs: 200 })),
      ...Array.from({ length: 12 }, (_, i) => ({ bot: 'BOT-B', type: 'testing', success: i === 0, durationMs: 200 })),
    ];
    const rec = deia(['record', '--stdin-jsonl'], { dir, input: outcomes.map((o) => JSON.stringify(o)).join('\n') + '\n' });
    expect(rec.code, rec.stderr).toBe(0);
    expect(json(['task', 'submit', 'a', '--type', 'testing', '--as', 'LEAD'], dir).bot_id).toBe('BOT-A');
    expect(deia(['health', 'record', 'cpu', '99', '--bot', 'BOT-A'], { dir }).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(json(['task', 'submit', `b${i}`, '--type', 'testing', '--as', 'LEAD'], dir).bot_id).toBe('BOT-B');
    }
    expect(deia(['health', 'record', 'cpu', '10', '--bot', 'BOT-A'], { dir }).code).toBe(0);
    expect(json(['task', 'submit', 'c', '--type', 'testing', '--as', 'LEAD'], dir).bot_id).toBe('BOT-A');
  });

  it('3. messaging + health: queue depth over the threshold raises the queue_depth alert, and scale says up', () => {
    const { dir } = tempHive();
    configure(dir, {
      health: { measure_system: false, queue_depth_warn: 5, queue_depth_critical: 50 },
      scaling: { scale_up_queue_depth: 5 },
    });
    deia(['register', 'BOT-A'], { dir });
    for (let i = 0; i < 6; i++) expect(deia(['send', 'BOT-A', `urgent ${i}`, '--priority', 'P1', '--as', 'LEAD'], { dir }).code).toBe(0);
    const h = deia(['health', '--json'], { dir });
    expect(h.code).toBe(1); // DEGRADED
    const alerts = readJsonl(path.join(dir, 'health-alerts.jsonl'));
    expect(alerts.some((a) => JSON.stringify(a).includes('queue_depth'))).toBe(true);
    const s = json(['scale'], dir);
    expect(s.action).toBe('up');
    expect(s.queue_depth.urgent_unread).toBeGreaterThanOrEqual(6);
    expect(s.reasons.join(' ')).toMatch(/queue depth/);
  });

  it('4. all together: 4 bot processes and a submitter, 200 tasks, each finished once, routing learns', async () => {
    const { dir } = tempHive();
    configure(dir, { health: { measure_system: false, error_rate_warn: 40, error_rate_critical: 90 } });
    for (const b of BOTS) deia(['register', b], { dir });
    // Each bot is (secretly) good at one type and poor at the others.
    const bots = BOTS.map((b, i) =>
      startBot(dir, b, {
        skill: Object.fromEntries(TYPES.map((t, j) => [t, i === j ? 0.97 : 0.3])),
        speed: Object.fromEntries(TYPES.map((t) => [t, 0])),
      }),
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
      const sub = await deiaAsync(['task', 'submit', '--stdin-jsonl', '--as', 'LEAD', '--json'], { dir, input: input + '\n' });
      expect(sub.code, sub.stderr).toBe(0);
      submitted.push(...JSON.parse(sub.stdout));
      for (;;) {
        tasks = json(['task', 'list'], dir);
        if (finished(tasks) || Date.now() > deadline) break;
        if (tasks.some((t) => t.status === 'queued')) deia(['task', 'dispatch'], { dir });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(submitted).toHaveLength(N);
    const logs = await stopBots(dir, bots);
    expect(tasks, logs.join('\n')).toHaveLength(N);
    expect(tasks.filter((t) => t.status !== 'done' && t.status !== 'failed')).toEqual([]);

    // Exactly one finish per task in tasks.jsonl, exactly one outcome per task in performance.jsonl.
    const recs = readJsonl(path.join(dir, 'tasks.jsonl'));
    const finishes = new Map<string, number>();
    for (const r of recs) if (r.event === 'done' || r.event === 'failed') finishes.set(r.task_id, (finishes.get(r.task_id) ?? 0) + 1);
    expect(finishes.size).toBe(N);
    expect([...finishes.values()].every((n) => n === 1)).toBe(true);
    const perf = readJsonl(path.join(dir, 'performance.jsonl'));
    const outcomes = new Map<string, number>();
    for (const p of perf) outcomes.set(p.task_id, (outcomes.get(p.task_id) ?? 0) + 1);
    expect(outcomes.size).toBe(N);
    expect([...outcomes.values()].every((n) => n === 1)).toBe(true);

    // Routing shifts toward the better bot per type.
    const byId = new Map(tasks.map((t) => [t.task_id, t]));
    const ordered = submitted.map((s) => byId.get(s.task_id)!);
    const toBest = (ts: any[]) => ts.filter((t) => t.bot_id === BOTS[TYPES.indexOf(t.task_type)]).length / ts.length;
    const first = toBest(ordered.slice(0, 50));
    const last = toBest(ordered.slice(-50));
    expect(last).toBeGreaterThan(first);
    // Chance alone would give 25 %; learning routes clearly more of the last round to the best bot.
    expect(last).toBeGreaterThanOrEqual(0.4);
  });

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
