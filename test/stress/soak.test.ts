import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, tempHive, type CliResult } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * Soak: 8 bot loops (each always has one `deia` process running) for DEIA_SOAK_SECONDS (60),
 * a random mix of send (all priorities, @all, unknown bots, short TTLs), inbox --next, read,
 * record, health record, task submit/start/done, with `deia cleanup` every second alongside.
 * Afterwards: every message is in exactly one terminal or waiting state, every --next claim
 * is unique, the audit log agrees with the state, doctor is clean. Totals are printed.
 *
 * On PostgreSQL and on a new folder (the default layout, named by --dir alone). What the CLI shows
 * is checked on both (the audit log through `deia export`, every inbox, `status`, `task list`,
 * `doctor`). On PostgreSQL the settings come from the folder's config.json (`--dir` beside
 * `--store`), as they do for any command there.
 */
const SECONDS = Number(process.env.DEIA_SOAK_SECONDS ?? 60);
const BOTS = Array.from({ length: 8 }, (_, i) => `BOT-${i}`);
const GHOSTS = ['GHOST-1', 'GHOST-2'];

const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

interface OnStore {
  /** The --store URL; none for a new folder named by --dir (its default layout). */
  url?: string;
  label: string;
  drop: () => Promise<void>;
}

const backends: Array<{ kind: string; url: () => Promise<OnStore> }> = [
  { kind: 'postgres', url: async () => ({ ...(await freshDatabase()), label: 'PostgreSQL' }) },
  // A new folder: the storage interface's layout (queues/, docs/, layout.json), named by --dir alone.
  { kind: 'new folder', url: async () => ({ label: 'new folder', drop: async () => undefined }) },
];

describe.each(backends)('soak on the $kind backend', ({ url: openDb }) => {
  it(`8 processes × ${SECONDS} s with cleanup every second: nothing lost, nothing doubled`, async () => {
    const { root, dir } = tempHive('deia-soak-');
    const db = await openDb();
    const store = db.url ? ['--store', db.url] : [];
    expect(deia(['init'], { dir }).code).toBe(0);
    if (db.url) expect(deia(['init', ...store], { dir }).code).toBe(0);
    const cfgPath = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.messaging.backoff_base_ms = 300;
    cfg.messaging.backoff_cap_ms = 2000;
    cfg.messaging.read_retention_hours = 0; // cleanup compacts read mail while bots work
    fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    const cli = (argv: string[]) => deiaAsync([...store, ...argv], { dir });
    for (const b of BOTS) expect(deia([...store, 'register', b], { dir }).code).toBe(0);

    const sent = new Map<string, string>(); // message id -> recipient
    const claims: string[] = [];
    const failures: string[] = [];
    const ops: Record<string, number> = {};
    const tasks = { submitted: 0, started: 0, done: 0 };
    // A task can be taken back between submit and start (cleanup's dispatch re-queues tasks of a
    // bot whose health went CRITICAL before it started): start/done then refuse, which is right.
    const TAKEN_BACK = /is queued, not assigned|is assigned to [^,]+, not |is (done|failed)/;
    let races = 0;
    const deadline = Date.now() + SECONDS * 1000;

    const run = async (kind: string, argv: string[], ok: number[] = [0], benign?: RegExp): Promise<CliResult> => {
      const r = await cli([...argv, '--json']);
      ops[kind] = (ops[kind] ?? 0) + 1;
      const raced = benign !== undefined && r.code === 2 && benign.test(r.stderr);
      if (raced) races++;
      if ((!ok.includes(r.code) && !raced) || /internal error|\n\s+at /.test(r.stderr)) {
        failures.push(`${argv.join(' ')} -> ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
      }
      return r;
    };

    const bot = async (me: string) => {
      const mix: Array<[number, () => Promise<void>]> = [];
      mix.push([
          5,
          async () => {
            const roll = Math.random();
            const to = roll < 0.7 ? pick(BOTS.filter((b) => b !== me)) : roll < 0.8 ? '@all' : pick(GHOSTS);
            const argv = ['send', '--as', me, to, `soak ${me} ${Date.now()}`, '--priority', pick(['P0', 'P1', 'P2', 'P3'])];
            if (to.startsWith('GHOST') && Math.random() < 0.5) argv.push('--ttl', '1');
            const r = await run('send', argv);
            if (r.code !== 0) return;
            const doc = JSON.parse(r.stdout);
            for (const m of Array.isArray(doc) ? doc : [doc]) sent.set(m.message_id, m.to_bot);
          },
        ]);
      mix.push([
          4,
          async () => {
            const r = await run('inbox --next', ['inbox', me, '--next'], [0, 1]);
            if (r.code === 0) {
              const m = JSON.parse(r.stdout);
              if (m) claims.push(m.message_id);
            }
          },
        ]);
      mix.push([
          1,
          async () => {
            const r = await run('inbox', ['inbox', me, '--limit', '3']);
            if (r.code !== 0) return;
            const list = JSON.parse(r.stdout) as Array<{ message_id: string }>;
            if (list.length) await run('read', ['read', '--as', me, ...list.map((m) => m.message_id)], [0, 1]);
          },
        ]);
      mix.push([2, async () => void (await run('record', ['record', me, pick(['code', 'testing', 'docs']), Math.random() < 0.8 ? '--success' : '--failure', '--duration', String(100 + Math.floor(Math.random() * 900))]))]);
      mix.push([2, async () => void (await run('health record', ['health', 'record', pick(['cpu', 'memory', 'error_rate']), String(Math.floor(Math.random() * 100)), '--bot', me]))]);
      mix.push([
          2,
          async () => {
            const r = await run('task submit', ['task', 'submit', '--as', me, '--to', me, `write tests for ${me}`]);
            if (r.code !== 0) return;
            tasks.submitted++;
            const id = JSON.parse(r.stdout).task_id;
            if ((await run('task start', ['task', 'start', '--as', me, id], [0], TAKEN_BACK)).code !== 0) return;
            tasks.started++;
            if ((await run('task done', ['task', 'done', '--as', me, id], [0], TAKEN_BACK)).code === 0) tasks.done++;
          },
        ]);
      const total = mix.reduce((a, [w]) => a + w, 0);
      while (Date.now() < deadline && mix.length) {
        let x = Math.random() * total;
        for (const [w, f] of mix) {
          if ((x -= w) < 0) {
            await f();
            break;
          }
        }
      }
    };

    let cleanups = 0;
    const cleaner = async () => {
      while (Date.now() < deadline) {
        const t0 = Date.now();
        await run('cleanup', ['cleanup']);
        cleanups++;
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
      }
    };

    await Promise.all([...BOTS.map(bot), cleaner()]);

    // Let retries and expiries run out, then look at the whole state.
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < 4; i++) await run('cleanup', ['cleanup']);
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);

    // --next claims are unique
    expect(new Set(claims).size).toBe(claims.length);

    // What the CLI shows, on both backends: status, the audit log, every inbox. Status first, and
    // the registered bots' inboxes only: a bot's first look at its inbox delivers its pending mail.
    const st = JSON.parse((await cli(['status', '--json'])).stdout);
    const exported = path.join(root, 'export');
    expect((await cli(['export', '--out', exported])).code).toBe(0);
    const audit = readJsonl(path.join(exported, 'bot-messaging.jsonl'));
    const ev = (e: string) => new Set(audit.filter((a) => a.event === e).map((a) => a.message_id));
    const [queued, delivered, failed, expired] = ['message_queued', 'message_delivered', 'message_failed', 'message_expired'].map(ev) as Set<string>[];
    const inInbox = new Map<string, string[]>();
    const statusOf = new Map<string, string>();
    for (const b of BOTS) {
      const r = await cli(['inbox', b, '--all', '--json']);
      expect(r.code, r.stderr).toBe(0);
      for (const m of JSON.parse(r.stdout) as Array<{ message_id: string; status: string }>) {
        inInbox.set(m.message_id, [...(inInbox.get(m.message_id) ?? []), b]);
        statusOf.set(m.message_id, m.status);
      }
    }
    const fates: Record<string, number> = {};
    const wrong: string[] = [];
    for (const [id, to] of sent) {
      if (!queued.has(id)) wrong.push(`${id}: no message_queued`);
      const ends = [delivered, failed, expired].filter((s) => s.has(id)).length;
      if (ends > 1) wrong.push(`${id}: ${ends} of delivered/failed/expired`);
      const where = inInbox.get(id) ?? [];
      if (where.length > 1 || (where.length === 1 && where[0] !== to)) wrong.push(`${id} (to ${to}) in inboxes ${where.join(',')}`);
      if (where.length === 1 && !delivered.has(id)) wrong.push(`${id} in an inbox without message_delivered`);
      const fate = delivered.has(id) ? 'delivered' : failed.has(id) ? 'failed' : expired.has(id) ? 'expired' : 'pending';
      fates[fate] = (fates[fate] ?? 0) + 1;
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(st.by_status.pending ?? 0, 'status: pending').toBe(fates.pending ?? 0);
    const claimedAudit = ev('message_read');
    expect(claims.filter((id) => !claimedAudit.has(id)), 'every claim is a message_read').toEqual([]);
    // A claimed message still listed (cleanup compacts read mail away) is listed as read.
    expect(claims.filter((id) => statusOf.has(id) && statusOf.get(id) !== 'read'), 'claimed messages listed as read').toEqual([]);
    expect(Object.values(st.by_status as Record<string, number>).reduce((a, b) => a + b, 0), 'status: by_status adds up to total').toBe(st.total);

    const list = JSON.parse((await cli(['task', 'list', '--json'])).stdout) as Array<{ status: string }>;
    expect(list.filter((t) => t.status === 'done').length).toBe(tasks.done);
    const doc = await cli(['doctor', '--json']);
    expect(doc.code, doc.stdout).toBe(0);
    console.log(
      `soak (${db.label}): ${SECONDS} s, 8 bots + cleanup every second: ${Object.values(ops).reduce((a, b) => a + b, 0)} commands ${JSON.stringify(ops)}; ` +
        `${sent.size} messages ${JSON.stringify(fates)}, ${claims.length} unique --next claims, tasks ${JSON.stringify(tasks)} (${races} taken back before start), ` +
        `${cleanups} cleanups, 0 failed commands, doctor clean`,
    );
    await db.drop();
  });
});
