/**
 * deia cleanup on a PostgreSQL store, through real CLI processes: retention of read mail, of
 * send --key documents, of finished tasks and of health samples by the folder's rules (the last
 * two compared with a folder running the same session), --dry-run changing nothing. Needs the
 * test PostgreSQL server (fails without it, never skips).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, tempHive, type CliOptions } from './helpers/cli.js';
import { logLines, withBackend } from './helpers/logs.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';
import { configure } from './helpers/tasks.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const HOUR = 3_600_000;
const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number): CliOptions => ({ env: { DEIA_NOW: String(t0 + ms) } });

describe('deia cleanup on PostgreSQL', () => {
  let db: { url: string; drop: () => Promise<void> };
  const run = (args: string[], opts: CliOptions = {}) => deia(['--store', db.url, ...args], opts);
  const json = (args: string[], opts: CliOptions = {}) => {
    const r = run([...args, '--json'], opts);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  };
  const send = (text: string, ms: number, extra: string[] = []) => json(['send', 'B', text, '--as', 'A', ...extra], at(ms)).message_id as string;
  const inboxIds = (ms: number) => (json(['inbox', '--as', 'B', '--all'], at(ms)) as Array<{ message_id: string }>).map((m) => m.message_id).sort();

  beforeEach(async () => {
    db = await freshDatabase();
    const r = deia(['init', '--store', db.url]);
    if (r.code !== 0) throw new Error(r.stderr);
  });
  afterEach(async () => {
    await db.drop();
  });

  it('forgets read mail and keys past retention, keeps recent and unread mail; --dry-run changes nothing; an old key sends anew', async () => {
    json(['inbox', '--as', 'B'], at(0));
    const oldRead = send('old, read', 0);
    json(['read', oldRead, '--as', 'B'], at(1000));
    const oldUnread = send('old, never read', 2000);
    const keyed = send('once', 3000, ['--key', 'job-1']);
    const recentRead = send('recent, read', 190 * HOUR);
    json(['read', recentRead, '--as', 'B'], at(190 * HOUR));
    const everything = [oldRead, oldUnread, keyed, recentRead].sort();
    expect(inboxIds(190 * HOUR)).toEqual(everything);

    // 200 h later: past the 168 h of read_retention_hours and key_retention_hours for the first messages only.
    const dry = json(['cleanup', '--dry-run'], at(200 * HOUR));
    expect(dry).toMatchObject({ dry_run: true, changed: true, compaction: { dropped: 1 }, key_retention: { dropped: 1, kept: 0 }, rotated: [], locks_removed: [] });
    expect(inboxIds(200 * HOUR)).toEqual(everything);
    expect(send('once', 200 * HOUR, ['--key', 'job-1'])).toBe(keyed); // the key still holds

    const done = json(['cleanup'], at(200 * HOUR));
    expect(done).toMatchObject({ dry_run: false, changed: true, compaction: { dropped: 1 }, key_retention: { dropped: 1 }, errors: [] });
    expect(inboxIds(200 * HOUR)).toEqual([oldUnread, keyed, recentRead].sort());
    const again = send('once', 200 * HOUR, ['--key', 'job-1']);
    expect(again).not.toBe(keyed); // the key was forgotten: the send stored a new message
    expect(json(['cleanup'], at(201 * HOUR))).toMatchObject({ changed: false, compaction: { dropped: 0 }, key_retention: { dropped: 0, kept: 1 } });
    expect(run(['cleanup'], at(201 * HOUR)).stdout).toMatch(/nothing to do/);
    // One cleanup_completed line in the audit log, for the run that changed something.
    const b = await (await lib()).openBackend(db.url);
    try {
      const events: Array<Record<string, any>> = [];
      for await (const line of b.log('bot-messaging').exportLines()) events.push(JSON.parse(line));
      const completed = events.filter((e) => e.event === 'cleanup_completed');
      expect(completed).toHaveLength(1);
      expect(completed[0].details).toMatchObject({ compaction: { dropped: 1 }, key_retention: { dropped: 1 } });
    } finally {
      await b.close();
    }
  });
});

/** A folder whose `deia health` does not measure this machine (its load would make answers random). */
function unmeasured(): { dir: string; root: string } {
  const h = tempHive('deia-retain-');
  configure(h.dir, { health: { measure_system: false } });
  return h;
}

describe('cleanup of health samples on PostgreSQL keeps the health answers', () => {
  it('archiving the samples the last evaluation stored (never evaluated since) neither rebuilds the aggregates nor changes levels and alerts', async () => {
    // The same session on two databases, one cleaned up, one not: health answers the same on both.
    const dbs = [await freshDatabase(), await freshDatabase()];
    const settings = unmeasured();
    const store = (url: string) => ['--dir', settings.dir, '--store', url];
    try {
      for (const d of dbs) {
        const r = deia(['init', '--store', d.url]);
        if (r.code !== 0) throw new Error(r.stderr);
        const rec = (args: string[], ms: number) => {
          const x = deia([...store(d.url), 'health', 'record', ...args, '--json'], at(ms));
          if (x.code !== 0) throw new Error(x.stderr);
        };
        rec(['cpu', '95', '--bot', 'B3'], 0); // CRITICAL: an alert, a level stored
        rec(['cpu', '20', '--bot', 'B4'], 20 * HOUR);
        rec(['memory', '40'], 20 * HOUR); // the last evaluation's own sample
      }
      const T = 45 * HOUR; // past the 24 h of metrics_retention_hours for all three samples
      const cleaned = deia([...store(dbs[0]!.url), 'cleanup', '--json'], at(T));
      expect(cleaned.stderr).toBe('');
      expect(JSON.parse(cleaned.stdout)).toMatchObject({ metrics_retention: { dropped: 3 }, errors: [] });
      const b = await (await lib()).openBackend(dbs[0]!.url);
      try {
        const left: unknown[] = [];
        for await (const r of b.log('metrics').stream()) left.push(r);
        expect(left).toEqual([]);
      } finally {
        await b.close();
      }
      const reports = dbs.map((d) => deia([...store(d.url), 'health', '--json'], at(T)));
      if (reports[0]!.code !== reports[1]!.code || reports[0]!.stdout !== reports[1]!.stdout) {
        expect(JSON.parse(reports[0]!.stdout)).toEqual(JSON.parse(reports[1]!.stdout));
      }
      expect(reports[0]!.code).toBe(reports[1]!.code);
      const doc = JSON.parse(reports[0]!.stdout);
      // B3 and B4 are still known (stale now), with their last values, as without the cleanup.
      expect(doc.bots.map((x: { bot_id: string }) => x.bot_id).sort()).toEqual(['B3', 'B4']);
    } finally {
      for (const d of dbs) await d.drop();
      fs.rmSync(settings.root, { recursive: true, force: true });
    }
  });
});

describe('task retention on PostgreSQL under concurrent commands', () => {
  it('two cleanups and three submits at once: every old record archived exactly once, the new tasks kept', async () => {
    const d = await freshDatabase();
    try {
      expect(deia(['init', '--store', d.url]).code).toBe(0);
      expect(deia(['--store', d.url, 'register', 'BOT-A'], at(0)).code).toBe(0);
      // 20 tasks done long ago, stored as a folder's tasks.jsonl holds them.
      const ts = new Date(t0).toISOString();
      const old = Array.from({ length: 20 }, (_, i) => `old-${String(i).padStart(4, '0')}`);
      await withBackend(d.url, (b) =>
        b.log('tasks').append(
          old.flatMap((task_id) => [
            { event: 'submitted', task_id, timestamp: ts, task_type: 'code', description: `old ${task_id}`, priority: 'P2', submitted_by: 'LEAD' },
            { event: 'assigned', task_id, timestamp: ts, bot_id: 'BOT-A', attempt: 1, message_id: null },
            { event: 'started', task_id, timestamp: ts, bot_id: 'BOT-A' },
            { event: 'done', task_id, timestamp: ts, bot_id: 'BOT-A', duration_ms: 1, tokens: null, attempt: 1, perf_from: null },
            { event: 'outcome', task_id, timestamp: ts, attempt: 1 },
          ]),
        ),
      );
      const T = 200 * HOUR;
      const runs = await Promise.all([
        deiaAsync(['--store', d.url, 'cleanup', '--json'], at(T)),
        ...[1, 2, 3].map((n) => deiaAsync(['--store', d.url, 'task', 'submit', `new ${n}`, '--type', 'code', '--to', 'BOT-A', '--as', 'LEAD', '--json'], at(T))),
        deiaAsync(['--store', d.url, 'cleanup', '--json'], at(T)),
      ]);
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      const cleanups = [runs[0]!, runs[4]!].map((r) => JSON.parse(r.stdout).task_retention);
      expect(cleanups[0].archived + cleanups[1].archived).toBe(20);
      expect(cleanups[0].records + cleanups[1].records).toBe(100);
      const { live, archive } = await withBackend(d.url, async (b) => {
        const live: Array<Record<string, any>> = [];
        const archive: Array<Record<string, any>> = [];
        for await (const r of b.log('tasks').stream()) live.push(r);
        for await (const r of b.log('tasks').streamArchive()) archive.push(r);
        return { live, archive };
      });
      expect(archive).toHaveLength(100);
      expect([...new Set(archive.map((r) => r.task_id))].sort()).toEqual(old);
      expect(live.filter((r) => String(r.task_id).startsWith('old-'))).toEqual([]);
      const listed = JSON.parse(deia(['--store', d.url, 'task', 'list', '--json'], at(T)).stdout) as Array<{ description: string; status: string }>;
      expect(listed.map((t) => [t.description, t.status]).sort()).toEqual([
        ['new 1', 'assigned'],
        ['new 2', 'assigned'],
        ['new 3', 'assigned'],
      ]);
      expect(JSON.parse(deia(['--store', d.url, 'cleanup', '--json'], at(T)).stdout).task_retention).toEqual({ archived: 0, records: 0, kept: 3 });
    } finally {
      await d.drop();
    }
  });
});

/**
 * Task retention and health-sample retention: one scripted session on a new folder named by --dir,
 * on a fresh PostgreSQL database (settings from a folder's config.json) and on a folder named by
 * --store file://, then `cleanup` must give the same numbers on all three and leave the same
 * answers behind.
 */
describe('cleanup retention of finished tasks and health samples, folder, PostgreSQL and file:// folder alike', () => {
  interface Hive {
    kind: 'dir' | 'postgres' | 'interface';
    where: string;
    args: string[];
  }
  const made: Array<() => Promise<void>> = [];
  let hives: Hive[] = [];

  function configured(): { dir: string; root: string } {
    const h = unmeasured();
    made.push(async () => fs.rmSync(h.root, { recursive: true, force: true }));
    return h;
  }

  beforeEach(async () => {
    // A new folder named by --dir (what users get by default); the settings folder only holds
    // PostgreSQL's config.json.
    const folder = configured();
    expect(fs.existsSync(path.join(folder.dir, 'layout.json'))).toBe(true);
    const settings = configured();
    // A file:// folder (the storage interface's file backend), with the same settings.
    const iface = freshInterfaceFolder();
    made.push(iface.drop);
    configure(iface.dir, { health: { measure_system: false } });
    const pgdb = await freshDatabase();
    made.push(pgdb.drop);
    const r = deia(['init', '--store', pgdb.url]);
    if (r.code !== 0) throw new Error(r.stderr);
    hives = [
      { kind: 'dir', where: folder.dir, args: ['--dir', folder.dir] },
      { kind: 'postgres', where: pgdb.url, args: ['--dir', settings.dir, '--store', pgdb.url] },
      { kind: 'interface', where: iface.url, args: ['--store', iface.url] },
    ];
  });
  afterEach(async () => {
    for (const f of made.splice(0)) await f();
  });

  const runOn = (h: Hive, args: string[], ms: number) => deia([...h.args, ...args], at(ms));
  const jsonOn = (h: Hive, args: string[], ms: number) => {
    const r = runOn(h, [...args, '--json'], ms);
    if (r.code !== 0) throw new Error(`${h.kind}: deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  /** What a user compares between two hives: everything but the generated ids. */
  const tasksOf = (h: Hive, ms: number) =>
    (jsonOn(h, ['task', 'list'], ms) as Array<Record<string, unknown>>).map((t) => [t.description, t.status, t.bot_id, t.attempts, t.submitted_at ?? null, t.finished_at ?? null]);
  const archived = (h: Hive, log: string) =>
    withBackend(h.where, async (b) => {
      const out: Array<Record<string, any>> = [];
      for await (const r of b.log(log).streamArchive()) out.push(r as Record<string, any>);
      return out;
    });
  const health = (h: Hive, ms: number) => {
    const r = runOn(h, ['health', '--json'], ms);
    expect(r.stderr).toBe('');
    return { code: r.code, report: JSON.parse(r.stdout) };
  };

  /** The same session on a hive: returns the ids of the tasks that must be archived and of those that stay. */
  function session(h: Hive): { old: string[]; stays: string[] } {
    for (const b of ['LEAD', 'BOT-A', 'BOT-B']) jsonOn(h, ['register', b], 0);
    const submit = (text: string, to: string, ms: number) => jsonOn(h, ['task', 'submit', text, '--type', 'code', '--to', to, '--as', 'LEAD'], ms).task_id as string;
    // Finished long ago: done, and failed for good.
    const done = submit('old done', 'BOT-A', 0);
    jsonOn(h, ['task', 'start', done, '--as', 'BOT-A'], 60_000);
    jsonOn(h, ['task', 'done', done, '--as', 'BOT-A'], 120_000);
    const failed = submit('old failed', 'BOT-A', 0);
    jsonOn(h, ['task', 'start', failed, '--as', 'BOT-A'], 60_000);
    jsonOn(h, ['task', 'fail', failed, '--reason', 'no', '--as', 'BOT-A'], 180_000);
    // Submitted long ago, still open (in progress, its bot active recently): never archived.
    const open = submit('old but open', 'BOT-B', 0);
    jsonOn(h, ['task', 'start', open, '--as', 'BOT-B'], 199.9 * HOUR);
    // Finished within tasks.retention_hours (168 h before the cleanup at 200 h): kept.
    const recent = submit('recent done', 'BOT-A', 100 * HOUR);
    jsonOn(h, ['task', 'start', recent, '--as', 'BOT-A'], 100 * HOUR);
    jsonOn(h, ['task', 'done', recent, '--as', 'BOT-A'], 101 * HOUR);

    // Health samples: old ones (past the 24 h of metrics_retention_hours at 200 h), recent ones.
    const record = (args: string[], ms: number) => jsonOn(h, ['health', 'record', ...args], ms);
    record(['cpu', '95', '--bot', 'B1'], 0);
    record(['memory', '40'], HOUR);
    // B2's samples are forgotten by a reset: a folder removes them, so they are not counted as dropped.
    record(['cpu', '50', '--bot', 'B2'], 2 * HOUR);
    jsonOn(h, ['health', 'reset', '--bot', 'B2'], 3 * HOUR);
    record(['cpu', '30', '--bot', 'B1'], 199.95 * HOUR);
    record(['memory', '45'], 199.95 * HOUR);
    return { old: [done, failed], stays: [open, recent] };
  }

  it('cleanup archives the same tasks and samples on every backend, --dry-run moves nothing, and the answers after are the same', async () => {
    const ids = hives.map((h) => session(h));
    const T = 200 * HOUR;
    const tasksBefore = hives.map((h) => tasksOf(h, T));
    for (const x of tasksBefore.slice(1)) expect(x).toEqual(tasksBefore[0]);
    const healthBefore = hives.map((h) => health(h, T));
    for (const x of healthBefore.slice(1)) expect(x).toEqual(healthBefore[0]);
    const metricsBefore = await Promise.all(hives.map((h) => logLines(h.where, 'metrics')));

    // Dry run: the same counts, nothing moved.
    const dry = hives.map((h) => jsonOn(h, ['cleanup', '--dry-run'], T));
    for (const d of dry) {
      expect(d).toMatchObject({ dry_run: true, changed: true, errors: [], task_retention: { archived: 2, records: 12, kept: 2 }, metrics_retention: { dropped: 2 } });
    }
    for (const x of dry.slice(1)) expect(x.task_retention).toEqual(dry[0].task_retention);
    for (const x of dry.slice(1)) expect(x.metrics_retention).toEqual(dry[0].metrics_retention);
    for (const [i, h] of hives.entries()) {
      expect(tasksOf(h, T)).toEqual(tasksBefore[i]);
      expect(await logLines(h.where, 'metrics')).toEqual(metricsBefore[i]);
      expect(await archived(h, 'tasks')).toEqual([]);
      expect(await archived(h, 'metrics')).toEqual([]);
    }

    const done = hives.map((h) => jsonOn(h, ['cleanup'], T));
    for (const d of done) expect(d).toMatchObject({ dry_run: false, changed: true, errors: [] });
    for (const x of done.slice(1)) expect(x.task_retention).toEqual(done[0].task_retention);
    expect(done[0].task_retention).toEqual({ archived: 2, records: 12, kept: 2 });
    for (const x of done.slice(1)) expect(x.metrics_retention).toEqual(done[0].metrics_retention);
    expect(done[0].metrics_retention).toEqual({ dropped: 2 });

    // Tasks: the finished old ones are gone from list and show, the others answer as before.
    const after = hives.map((h) => tasksOf(h, T));
    for (const x of after.slice(1)) expect(x).toEqual(after[0]);
    expect(after[0].map((t) => t[0])).toEqual(['old but open', 'recent done']);
    for (const [i, h] of hives.entries()) {
      const gone = runOn(h, ['task', 'show', ids[i]!.old[0]!, '--json'], T);
      expect(gone.code).not.toBe(0);
      expect(JSON.parse(gone.stdout).error.message).toMatch(/^no task /);
      expect(jsonOn(h, ['task', 'show', ids[i]!.stays[0]!], T)).toMatchObject({ status: 'in_progress', bot_id: 'BOT-B' });
      // Every record of the archived tasks is in the archive, once; none of the others.
      const arch = await archived(h, 'tasks');
      expect(arch).toHaveLength(12);
      expect(new Set(arch.map((r) => r.task_id))).toEqual(new Set(ids[i]!.old));
      expect((await logLines(h.where, 'tasks')).filter((r) => ids[i]!.old.includes(r.task_id as string))).toEqual([]);
      // Samples: the old ones in the archive (also B2's, which its reset forgot), the recent ones kept.
      const samples = (await logLines(h.where, 'metrics')).filter((r) => r.event !== 'health_reset');
      expect(samples.map((r) => [r.metric, r.value, r.bot ?? null])).toEqual([
        ['cpu', 30, 'B1'],
        ['memory', 45, null],
      ]);
      const movedSamples = (await archived(h, 'metrics')).map((r) => [r.metric, r.value, r.bot ?? null]);
      expect(movedSamples).toEqual([['cpu', 95, 'B1'], ['memory', 40, null], ['cpu', 50, 'B2']]);
    }
    // Health: the same report as before the cleanup, on every backend (levels, values, alerts).
    const healthAfter = hives.map((h) => health(h, T));
    for (const x of healthAfter.slice(1)) expect(x).toEqual(healthAfter[0]);
    // The first evaluation wrote its level changes as alerts; otherwise nothing changed.
    expect(healthAfter[0].report.alerts).toEqual([]);
    expect({ ...healthAfter[0], report: { ...healthAfter[0].report, alerts: healthBefore[0].report.alerts } }).toEqual(healthBefore[0]);
    expect(healthAfter[0].report.bots.map((b: { bot_id: string; level: string }) => b.bot_id)).toContain('B1');

    // History: the samples kept, the archived ones no longer shown, on every backend alike.
    const history = hives.map((h) => jsonOn(h, ['health', 'history', 'cpu', '--bot', 'B1', '--since', '2030-01-01T00:00:00Z'], T));
    for (const x of history.slice(1)) expect(x).toEqual(history[0]);
    expect(history[0].samples.map((x: { value: number }) => x.value)).toEqual([30]);

    // A second run finds nothing to move.
    const again = hives.map((h) => jsonOn(h, ['cleanup'], T + 60_000));
    for (const a of again) expect(a).toMatchObject({ task_retention: { archived: 0, records: 0, kept: 2 }, metrics_retention: { dropped: 0 } });
    expect(hives.map((h) => tasksOf(h, T + 60_000))).toEqual(hives.map(() => after[0]));
  });
});
