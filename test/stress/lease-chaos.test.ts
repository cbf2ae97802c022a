import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, tempHive } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * Claims that survive the claimer's death (issue 12.7): worker processes loop
 * `inbox --next --lease 2s` / work / `ack` through the real CLI while the test SIGKILLs some
 * of them mid-work (after a claim, before its ack) and starts replacements. Afterwards every
 * acknowledged send was acked (0 lost), each exactly once, and a message was claimed (and
 * processed) more than once only when an earlier claimer of it was killed, or (on a machine
 * so loaded that a CLI call takes longer than the lease) its ack came after its lease lapsed
 * and another worker had claimed it; and no two leases on one message were ever live at once.
 *
 * The same run on a new folder (the default layout, named by --dir) and on PostgreSQL. Ground truth
 * for claims and acks on both: the workers' own logs (each claim with its lease's end, each ack; the
 * stores keep a message's latest claim only) and the final inbox.
 */
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/lease-worker.mjs');
const MESSAGES = 80;
const WORKERS = 4;
const KILLS = 6;
const LEASE = process.env.DEIA_CHAOS_LEASE ?? '2s';

const LEASE_MS = Number(/^(\d+)s$/.exec(LEASE)?.[1] ?? NaN) * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Event {
  t: 'claim' | 'ack' | 'nack';
  id: string;
  by: string;
  n: number;
  at: string;
  until?: string;
}

/** Where the hive lives, how the CLI is pointed at it, and the claims and acks it made. */
interface Backend {
  where: string;
  cli: (args: string[], input?: string) => ReturnType<typeof deia>;
  events: (workerLogs: string[]) => Event[];
  done: () => Promise<void>;
}

/** A new folder (the storage interface's layout, the default): claims and acks as the workers logged them. */
async function newFolderBackend(dir: string): Promise<Backend> {
  return {
    where: dir,
    cli: (args, input) => deia(args, { dir, input }),
    events: eventsFromWorkerLogs,
    done: async () => undefined,
  };
}

async function postgresBackend(): Promise<Backend> {
  const db = await freshDatabase();
  return {
    where: db.url,
    cli: (args, input) => deia(['--store', db.url, ...args], { input }),
    events: eventsFromWorkerLogs,
    done: db.drop,
  };
}

/** Claims (at = the lease's end minus its length) and acks as the workers logged them, in time order. */
function eventsFromWorkerLogs(workerLogs: string[]): Event[] {
  const out: Event[] = [];
  for (const l of workerLogs) {
    const c = /^(W\d+)\.log: claim (\S+) (\d+) (\S+)$/.exec(l);
    if (c) out.push({ t: 'claim', by: c[1]!, id: c[2]!, n: Number(c[3]), until: c[4]!, at: new Date(Date.parse(c[4]!) - LEASE_MS).toISOString() });
    const a = /^(W\d+)\.log: acked (\S+) (\d+) (\S+)$/.exec(l);
    if (a) out.push({ t: 'ack', by: a[1]!, id: a[2]!, n: Number(a[3]), at: a[4]! });
  }
  return out.sort((x, y) => Date.parse(x.at) - Date.parse(y.at) || (x.t === 'claim' ? -1 : 1));
}

const backends = [
  { kind: 'new folder', open: () => newFolderBackend(tempHive('deia-lease-chaos-').dir) },
  { kind: 'postgres', open: postgresBackend },
];

describe.each(backends)('lease chaos on the $kind backend', ({ kind, open: openBackend }) => {
  it('leases: SIGKILLed workers lose no message; duplicates only after a claimer died', async () => {
    const hive = await openBackend();
    const root = tempHive('deia-lease-chaos-logs-').root;
    expect(hive.cli(['init']).code).toBe(0);
    expect(hive.cli(['register', 'QUEUE']).code).toBe(0);
    const stop = path.join(root, 'stop');
    const logs = path.join(root, 'logs');
    fs.mkdirSync(logs);

    const running = new Map<string, ChildProcess>();
    const killed = new Set<string>();
    let next = 0;
    const startWorker = () => {
      const id = `W${++next}`;
      const child = spawn(process.execPath, [WORKER, mainPath(), hive.where, id, 'QUEUE', path.join(logs, `${id}.log`), stop, LEASE], { stdio: 'ignore' });
      running.set(id, child);
      child.on('exit', () => running.delete(id));
    };
    const logOf = (id: string) => {
      try {
        return fs.readFileSync(path.join(logs, `${id}.log`), 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    };

    // Acknowledged sends: the ids `send --json` printed, in two batches (the second while workers run).
    const sent: string[] = [];
    const sendBatch = (from: number, to: number) => {
      const input = Array.from({ length: to - from }, (_, i) => JSON.stringify({ to: 'QUEUE', body: `job ${from + i}` })).join('\n');
      const r = hive.cli(['send', '--stdin-jsonl', '--as', 'PRODUCER', '--json'], input);
      expect(r.code, r.stderr).toBe(0);
      sent.push(...JSON.parse(r.stdout).map((m: { message_id: string }) => m.message_id));
    };
    sendBatch(0, MESSAGES / 2);
    for (let i = 0; i < WORKERS; i++) startWorker();
    sendBatch(MESSAGES / 2, MESSAGES);

    // Kill a worker mid-work (its last line is a claim) now and then, and replace it.
    const t0 = Date.now();
    for (let k = 0; k < KILLS && Date.now() - t0 < 30_000; k++) {
      await sleep(600 + Math.random() * 600);
      const ids = [...running.keys()];
      const victim = ids[Math.floor(Math.random() * ids.length)];
      if (!victim) break;
      for (let i = 0; i < 200 && !logOf(victim).at(-1)?.startsWith('claim '); i++) await sleep(5);
      if (!logOf(victim).at(-1)?.startsWith('claim ')) continue;
      running.get(victim)!.kill('SIGKILL');
      killed.add(victim);
      running.delete(victim);
      startWorker();
    }

    const workerLogs = () => fs.readdirSync(logs).flatMap((f) => logOf(f.replace(/\.log$/, '')).map((l) => `${f}: ${l}`));
    // Wait until every message is acked (leases of killed workers lapse after 2 s), or until
    // acks stop coming for 30 s (a message lost for good), then stop.
    const ackedIds = () => new Set(hive.events(workerLogs()).filter((r) => r.t === 'ack').map((r) => r.id));
    let progress = { n: 0, at: Date.now() };
    for (let n = ackedIds().size; n < MESSAGES && Date.now() - progress.at < 30_000; n = ackedIds().size) {
      if (n > progress.n) progress = { n, at: Date.now() };
      await sleep(250);
    }
    fs.writeFileSync(stop, '');
    const stopAt = Date.now();
    while (running.size > 0 && Date.now() - stopAt < 20_000) await sleep(100);
    for (const c of running.values()) c.kill('SIGKILL');

    // Ground truth: claims and acks per message.
    const events = hive.events(workerLogs());
    expect(events.filter((e) => e.t === 'claim' && !(Date.parse(e.until!) > 0)), 'claims without a lease end').toEqual([]);
    const claims = new Map<string, Array<{ by: string; n: number }>>();
    const acks = new Map<string, number>();
    for (const e of events) {
      if (e.t === 'claim') claims.set(e.id, [...(claims.get(e.id) ?? []), { by: e.by, n: e.n }]);
      if (e.t === 'ack') acks.set(e.id, (acks.get(e.id) ?? 0) + 1);
    }
    const lost = sent.filter((id) => acks.get(id) !== 1);
    const inbox = JSON.parse(hive.cli(['inbox', 'QUEUE', '--all', '--json']).stdout) as Array<{ message_id: string; status: string }>;
    const status = new Map(inbox.map((m) => [m.message_id, m.status]));
    const allLogs = workerLogs();
    // An ack may be refused only because the lease lapsed and someone else claimed the message: seen
    // before the ack ("is held by W2 (claim 3), not by W1") or while it settled ("was claimed again
    // meanwhile: it is not held by W1", the backend refusing to settle a claim that moved on).
    const lapsed = / is held by W\d+ \(claim \d+\), not by W\d+| was claimed again meanwhile: it is not held by W\d+ /;
    const errors = allLogs.filter((l) => / error /.test(l) || (/ ackfail /.test(l) && !lapsed.test(l)));
    const lateIds = new Map<string, Set<string>>(); // message id -> live workers whose ack came after their lease lapsed
    for (const l of allLogs) {
      const m = /^(W\d+)\.log: ackfail (\S+) \d+ /.exec(l);
      if (m) lateIds.set(m[2]!, new Set([...(lateIds.get(m[2]!) ?? []), m[1]!]));
    }
    const excused = (id: string, by: string) => killed.has(by) || (lateIds.get(id)?.has(by) ?? false);

    expect(killed.size, 'workers killed mid-work').toBeGreaterThanOrEqual(3);
    expect(errors, 'worker errors').toEqual([]);
    // Leases are exclusive: a message is claimed again only after the previous lease lapsed or was nacked, never after an ack.
    const overlaps: string[] = [];
    const open = new Map<string, { until: number; acked: boolean }>();
    for (const e of events) {
      const cur = open.get(e.id);
      if (e.t === 'claim') {
        if (cur && (cur.acked || Date.parse(e.at) < cur.until)) overlaps.push(`${e.id} claim ${e.n} by ${e.by} at ${e.at}`);
        open.set(e.id, { until: Date.parse(e.until!), acked: false });
      } else if (cur && e.t === 'ack') cur.acked = true;
      else if (cur && e.t === 'nack') cur.until = 0;
    }
    expect(overlaps, 'claims made while another lease was live').toEqual([]);
    expect(lost, `messages not acked exactly once (of ${sent.length})`).toEqual([]);
    expect(sent.filter((id) => status.get(id) !== 'read')).toEqual([]);

    // Claimed (so maybe processed) more than once only when each earlier claimer was killed.
    const reclaimed = [...claims].filter(([, cs]) => cs.length > 1);
    const unexplained = reclaimed.filter(([id, cs]) => cs.slice(0, -1).some((c) => !excused(id, c.by)));
    expect(unexplained, `killed: ${[...killed].join(',')}`).toEqual([]);
    expect(reclaimed.length, 'a killed claimer\'s message was claimed again after its lease lapsed').toBeGreaterThanOrEqual(1);
    // Processing ("done" lines) more than once: likewise only after a killed claimer.
    const processed = new Map<string, string[]>();
    for (const l of allLogs) {
      const m = /^(W\d+)\.log: done (\S+) /.exec(l);
      if (m) processed.set(m[2]!, [...(processed.get(m[2]!) ?? []), m[1]!]);
    }
    for (const [id, who] of processed) {
      const acker = events.find((e) => e.t === 'ack' && e.id === id)?.by;
      const others = who.filter((w, i) => w !== acker || who.indexOf(w) !== i);
      if (who.length > 1) expect(others.every((w) => excused(id, w)), `${id} processed by ${who.join(',')}, acked by ${acker}`).toBe(true);
    }
    console.log(
      `lease chaos (${kind}): ${sent.length} sent, ${acks.size} acked, ${killed.size} workers killed, ${reclaimed.length} reclaimed, ` +
        `${events.filter((e) => e.t === 'claim').length} claims, ${lateIds.size} leases outlived by a live worker, ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await hive.done();
  }, 180_000);
});
