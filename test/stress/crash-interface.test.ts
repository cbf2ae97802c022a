import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, tempHive } from '../helpers/cli.js';
import { freshInterfaceFolder } from '../helpers/interface-folder.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * The crash proof on the storage interface, on PostgreSQL, on a new folder named by --dir (the
 * default layout) and on a file:// folder (the file backend: its transactions all or nothing
 * through the journal): CLI processes SIGKILLed at random points of their run (start-up,
 * connecting, inside a transaction, committing, printing): batch sends (5 messages, one
 * transaction), `inbox --next` claims, `record`s, `cleanup`s (in the folders with audit logs
 * rotated past 4 KB, so kills cut rotations too) and `doctor --repair`s, 4 at a time. Afterwards
 * every send that exited 0 is stored exactly once, no batch is stored in part (all 5 or none),
 * every claim that exited 0 names a distinct message that is read, every record that exited 0 is
 * counted, a `cleanup` runs without errors, `doctor --repair` repairs whatever the kills left and
 * `doctor` is clean after it, and the hive answers as before.
 */
const TRIALS = Number(process.env.DEIA_CRASH_TRIALS ?? 100);
const LANES = 4;
const BOTS = ['B1', 'B2', 'B3'];

interface Killed {
  code: number | null;
  stdout: string;
  killed: boolean;
}

/** How long each kind of command took when it ran to the end: kills aim around its finish (its transaction). */
const took = new Map<string, number[]>();
function delayFor(kind: string): number {
  // A quarter run to the end, so there is acknowledged work to lose.
  if (Math.random() < 0.25) return 60_000;
  const t = [...(took.get(kind) ?? [2000])].sort((a, b) => a - b);
  return Math.floor(t[t.length >> 1]! * (0.3 + 0.8 * Math.random()));
}

function killAfter(kind: string, args: string[], input = ''): Promise<Killed> {
  const ms = delayFor(kind);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainPath(), ...args], { env: { ...process.env, NO_COLOR: '1', DEIA_DIR: '', DEIA_BOT: '' } });
    let stdout = '';
    let killed = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', () => undefined);
    child.stdin.end(input);
    const t = setTimeout(() => {
      killed = child.exitCode === null;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) took.set(kind, [...(took.get(kind) ?? []), Date.now() - t0].slice(-20));
      resolve({ code, stdout, killed });
    });
  });
}

/** A new folder named by --dir alone: the layout every user gets by default. */
function freshDirFolder(): { dir: string; args: string[]; drop: () => Promise<void> } {
  const h = tempHive('deia-crash-');
  const r = deia(['init', '--dir', h.dir]);
  if (r.code !== 0) throw new Error(r.stderr);
  return { dir: h.dir, args: ['--dir', h.dir], drop: async () => fs.rmSync(h.root, { recursive: true, force: true }) };
}

/** Small audit logs (cleanup rotates them while processes are killed) and a short stale-lock window. */
function tune(dir: string): void {
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.store = { ...cfg.store, lock_stale_ms: 2000, lock_max_wait_ms: 15000 };
  cfg.cleanup = { ...cfg.cleanup, log_max_bytes: 4096, log_generations: 3 };
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
}

const places: Array<{ kind: string; make: () => Promise<{ args: string[]; dir?: string; drop: () => Promise<void> }> }> = [
  {
    kind: 'PostgreSQL',
    make: async () => {
      const db = await freshDatabase();
      return { args: ['--store', db.url], drop: db.drop };
    },
  },
  { kind: 'a new folder (--dir)', make: async () => freshDirFolder() },
  {
    kind: 'a file:// folder',
    make: async () => {
      const f = freshInterfaceFolder();
      return { args: ['--store', f.url], dir: f.dir, drop: f.drop };
    },
  },
];

describe.each(places)('crash on $kind: SIGKILL at random points', ({ kind: where, make }) => {
  it(`loses nothing acknowledged and stores no batch in part over ${TRIALS} trials`, async () => {
    took.clear();
    const db = await make();
    const on = (args: string[]) => [...db.args, ...args];
    expect(deia(on(['init'])).code).toBe(0);
    if (db.dir) tune(db.dir);
    for (const b of BOTS) expect(deia(on(['register', b])).code).toBe(0);

    const batches = new Map<string, string[] | null>(); // batch tag -> ids printed (null: killed or failed)
    const claims: string[] = [];
    let records = { attempted: 0, acked: 0 };
    const kills: Record<string, number> = {};
    let trial = 0;

    const one = async () => {
      const k = trial++;
      const roll = Math.random();
      let kind: string;
      let r: Killed;
      if (roll < 0.45) {
        kind = 'send';
        const tag = `batch-${k}`;
        const input = Array.from({ length: 5 }, (_, i) => JSON.stringify({ to: BOTS[i % BOTS.length], body: `${tag} ${i}`, priority: `P${i % 4}` })).join('\n');
        r = await killAfter('send', on(['send', '--stdin-jsonl', '--as', 'SENDER', '--json']), input);
        batches.set(tag, r.code === 0 ? (JSON.parse(r.stdout) as Array<{ message_id: string }>).map((m) => m.message_id) : null);
      } else if (roll < 0.73) {
        kind = 'claim';
        r = await killAfter('claim', on(['inbox', BOTS[k % BOTS.length]!, '--next', '--json']));
        if (r.code === 0) claims.push(JSON.parse(r.stdout).message_id);
      } else if (roll < 0.87) {
        kind = 'record';
        records.attempted++;
        r = await killAfter('record', on(['record', 'B1', 'code', '--success', '--duration', '200', '--json']));
        if (r.code === 0) records.acked++;
      } else if (roll < 0.94) {
        kind = 'cleanup';
        r = await killAfter('cleanup', on(['cleanup', '--json']));
      } else {
        kind = 'repair';
        r = await killAfter('repair', on(['doctor', '--repair', '--json']));
      }
      if (r.killed) kills[kind] = (kills[kind] ?? 0) + 1;
    };
    // Calibrate: one run of each kind to the end (its time is where kills aim).
    for (const kind of ['send', 'claim', 'record', 'cleanup', 'repair']) {
      const args = {
        send: ['send', 'B1', 'calibration', '--as', 'SENDER'],
        claim: ['inbox', 'B1', '--next'],
        record: ['record', 'B2', 'code', '--success'],
        cleanup: ['cleanup'],
        repair: ['doctor', '--repair'],
      }[kind]!;
      const t0 = Date.now();
      deia(on(args));
      took.set(kind, [Date.now() - t0]);
    }
    const lane = async () => {
      while (trial < TRIALS) await one();
    };
    await Promise.all(Array.from({ length: LANES }, lane));

    // The whole hive as the CLI sees it now.
    const stored = new Map<string, { content: string; status: string; to_bot: string }[]>();
    for (const b of BOTS) {
      const r = deia(on(['inbox', b, '--all', '--json']));
      expect(r.code, r.stdout).toBe(0);
      for (const m of JSON.parse(r.stdout) as Array<{ message_id: string; content: string; status: string; to_bot: string }>) {
        stored.set(m.message_id, [...(stored.get(m.message_id) ?? []), m]);
      }
    }
    const byTag = new Map<string, string[]>();
    for (const [id, copies] of stored) {
      expect(copies, `message ${id} stored once`).toHaveLength(1);
      const tag = copies[0]!.content.split(' ')[0]!;
      if (tag === 'calibration') continue;
      byTag.set(tag, [...(byTag.get(tag) ?? []), id]);
    }
    const partial = [...byTag].filter(([, ids]) => ids.length !== 5).map(([t, ids]) => `${t}: ${ids.length} of 5`);
    expect(partial, 'batches stored in part').toEqual([]);
    const acked = [...batches].filter(([, ids]) => ids !== null) as Array<[string, string[]]>;
    const lost = acked.filter(([tag, ids]) => [...ids].sort().join() !== [...(byTag.get(tag) ?? [])].sort().join()).map(([t]) => t);
    expect(lost, 'acknowledged batches not stored exactly as printed').toEqual([]);
    expect(new Set(claims).size, 'claims are distinct').toBe(claims.length);
    expect(claims.filter((id) => stored.get(id)?.[0]?.status !== 'read'), 'claimed messages are read').toEqual([]);

    const stats = deia(on(['stats', '--json']));
    expect(stats.code).toBe(0);
    const row = (JSON.parse(stats.stdout) as Array<{ bot_id: string; task_type: string; samples: number }>).find((s) => s.bot_id === 'B1' && s.task_type === 'code');
    const counted = row?.samples ?? 0;
    expect(counted, 'every acknowledged record is counted').toBeGreaterThanOrEqual(records.acked);
    expect(counted).toBeLessThanOrEqual(records.attempted);

    // What the kills left (a journal, a temp file, a lock whose holder died before naming itself)
    // `doctor --repair` repairs, and `doctor` is clean after it. A lock that names no holder is
    // judged by its age: wait out the stale window (2 s here) first, as cron's next cleanup would.
    await new Promise((r) => setTimeout(r, 2_300));
    const clean = deia(on(['cleanup', '--json']));
    expect(clean.code, clean.stderr).toBe(0);
    expect(JSON.parse(clean.stdout).errors, 'cleanup after the crashes').toEqual([]);
    const rotated = db.dir ? fs.readdirSync(db.dir).filter((f) => /^[a-z-]+\.\d+\.jsonl$/.test(f)).length : 0;
    const repair = deia(on(['doctor', '--repair', '--json']));
    const repaired = JSON.parse(repair.stdout) as { ok: boolean; repaired: number };
    expect(repaired.ok, repair.stdout).toBe(true);
    const doctor = deia(on(['doctor', '--json']));
    expect(doctor.code, doctor.stdout).toBe(0);
    // Nothing acknowledged went with the repair.
    for (const b of BOTS) {
      const listed = new Set((JSON.parse(deia(on(['inbox', b, '--all', '--json'])).stdout) as Array<{ message_id: string }>).map((m) => m.message_id));
      for (const [id] of [...stored].filter(([, c]) => c[0]!.to_bot === b)) expect(listed.has(id), `${id} still in ${b}'s inbox after doctor --repair`).toBe(true);
    }

    // The hive works on: a send and a claim after all that.
    const after = deia(on(['send', 'B2', 'after the crashes', '--as', 'SENDER', '--json']));
    expect(after.code).toBe(0);
    expect(deia(on(['inbox', 'B2', '--all', '--json'])).stdout).toContain(JSON.parse(after.stdout).message_id);

    const killedTotal = Object.values(kills).reduce((a, b) => a + b, 0);
    expect(killedTotal, 'processes killed before they finished').toBeGreaterThanOrEqual(TRIALS / 3);
    expect(acked.length, 'batches that ran to the end').toBeGreaterThanOrEqual(3);
    console.log(
      `crash (${where}): ${TRIALS} processes, ${killedTotal} SIGKILLed before exit ${JSON.stringify(kills)}; ` +
        `${acked.length} acknowledged batches (${acked.length * 5} messages), ${byTag.size - acked.length} batches stored by killed senders (whole), ` +
        `${claims.length} acknowledged claims, ${records.acked}/${records.attempted} acknowledged records; 0 lost, 0 partial; ` +
        `doctor --repair fixed ${repaired.repaired} problems, doctor clean after` + (db.dir ? `; ${rotated} rotated log generations` : ''),
    );
    await db.drop();
  }, 600_000);
});
