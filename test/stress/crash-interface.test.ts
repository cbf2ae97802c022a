import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { deia, mainPath } from '../helpers/cli.js';
import { freshInterfaceFolder } from '../helpers/interface-folder.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * The crash proof on the storage interface, on PostgreSQL and on a file:// folder (the file
 * backend: its transactions all or nothing through the journal): CLI processes SIGKILLed at random points of their run (start-up,
 * connecting, inside a transaction, committing, printing): batch sends (5 messages, one
 * transaction), `inbox --next` claims, `record`s and `cleanup`s, 4 at a time. Afterwards every
 * send that exited 0 is stored exactly once, no batch is stored in part (all 5 or none), every
 * claim that exited 0 names a distinct message that is read, every record that exited 0 is
 * counted, and the hive answers as before.
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

const places = [
  { kind: 'PostgreSQL', make: () => freshDatabase() },
  { kind: 'a file:// folder', make: async () => freshInterfaceFolder() },
];

describe.each(places)('crash on $kind: SIGKILL at random points', ({ kind: where, make }) => {
  it(`loses nothing acknowledged and stores no batch in part over ${TRIALS} trials`, async () => {
    took.clear();
    const db = await make();
    const on = (args: string[]) => ['--store', db.url, ...args];
    expect(deia(on(['init'])).code).toBe(0);
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
      } else if (roll < 0.75) {
        kind = 'claim';
        r = await killAfter('claim', on(['inbox', BOTS[k % BOTS.length]!, '--next', '--json']));
        if (r.code === 0) claims.push(JSON.parse(r.stdout).message_id);
      } else if (roll < 0.92) {
        kind = 'record';
        records.attempted++;
        r = await killAfter('record', on(['record', 'B1', 'code', '--success', '--duration', '200', '--json']));
        if (r.code === 0) records.acked++;
      } else {
        kind = 'cleanup';
        r = await killAfter('cleanup', on(['cleanup', '--json']));
      }
      if (r.killed) kills[kind] = (kills[kind] ?? 0) + 1;
    };
    // Calibrate: one run of each kind to the end (its time is where kills aim).
    for (const kind of ['send', 'claim', 'record', 'cleanup']) {
      const args = { send: ['send', 'B1', 'calibration', '--as', 'SENDER'], claim: ['inbox', 'B1', '--next'], record: ['record', 'B2', 'code', '--success'], cleanup: ['cleanup'] }[kind]!;
      const t0 = Date.now();
      deia(on(args));
      took.set(kind, [Date.now() - t0]);
    }
    const lane = async () => {
      while (trial < TRIALS) await one();
    };
    await Promise.all(Array.from({ length: LANES }, lane));

    // The whole hive as the CLI sees it now.
    const stored = new Map<string, { content: string; status: string }[]>();
    for (const b of BOTS) {
      const r = deia(on(['inbox', b, '--all', '--json']));
      expect(r.code, r.stdout).toBe(0);
      for (const m of JSON.parse(r.stdout) as Array<{ message_id: string; content: string; status: string }>) {
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
        `${claims.length} acknowledged claims, ${records.acked}/${records.attempted} acknowledged records; 0 lost, 0 partial`,
    );
    await db.drop();
  }, 600_000);
});
