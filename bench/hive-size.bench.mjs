// Cost follows work: `deia send` and `deia inbox --next` in a hive holding 1,000,000 messages
// against one holding 1,000, on a new folder and on PostgreSQL, alternating runs in the same run.
// Both hives give the bot under test (TARGET) the same mailbox: 50 unread and 20 read within the
// retention window. What differs is the history around it (bench/hive-size-fixtures.mjs):
//   big:   1,000 bots with 1,000 messages each (TARGET 900), 97% read before the 7-day retention
//          (a 0.1 folder keeps them in archive/mailboxes/, as `deia cleanup` leaves them; PostgreSQL as
//          rows in state done), 3 audit lines a message (a folder keeps 5 rotated 10 MB generations
//          + 5 MB current; PostgreSQL all 3,000,000 rows), 100 failed messages kept.
//   small: 10 bots, 1,000 messages, all in mailboxes (a young hive: nothing old enough to archive).
// The folders are written in deia 0.1's layout (the fixtures), then upgraded in place by
// `deia migrate --upgrade` (timed: a row) to the layout a new folder gets, where the commands run.
// Generating the big hive takes 20–30 s for the folder and 1–2 min for PostgreSQL on a 2-core machine,
// so by default it has 100 bots and 100,000 messages; DEIA_BENCH_BIG=1 makes it 1,000,000.
import fs from 'node:fs';
import path from 'node:path';
import { abCompare, deia, deiaBin, freshDb, instructions, median, root, startPg, tempHive } from './lib.mjs';
import { writeFolderHive, writePostgresHive } from './hive-size-fixtures.mjs';

export const title = 'hive size';
const BIG = process.env.DEIA_BENCH_BIG === '1';
const MB = 1024 * 1024;
const AUDIT = { auditCurrentBytes: 5 * MB, auditGenerations: 5, auditGenerationBytes: 10 * MB };
const SPECS = {
  small: { bots: 10, target: { archived: 0, read: 20, unread: 50 }, others: { archived: 0, read: 93, unread: 10 }, outboxFailed: 3, ...AUDIT },
  big: { bots: BIG ? 1000 : 100, target: { archived: 830, read: 20, unread: 50 }, others: { archived: 970, read: 20, unread: 10 }, outboxFailed: 100, ...AUDIT },
};
// More than the 21 of the start-up benches: each pair of runs is ~0.4 s, and a shared machine's load moves in seconds.
const RUNS = 31;
const TARGET = 1.2;

const say = (s) => process.stderr.write(`  ${s}\n`);
const label = (n) => n.toLocaleString('en-US');

async function timed(what, fn) {
  const t0 = Date.now();
  const r = await fn();
  say(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

/** The two commands under test, for a hive reached by `where` (--dir or --store). */
const COMMANDS = [
  ['deia send TARGET (one message)', (where, i) => [...where, 'send', 'TARGET', `hello ${i}`, '--as', 'SENDER']],
  ['deia inbox TARGET --next', (where) => [...where, 'inbox', 'TARGET', '--next', '--as', 'TARGET', '--json']],
];

/** Rows comparing the big hive with the small one: wall-time medians, and (folder) instructions. */
function compare(backend, small, big, count, withInstructions, cwd = root) {
  const rows = [];
  for (const [name, args] of COMMANDS) {
    let n = 0;
    const r = abCompare(() => deia(args(small, n++), {}, { cwd }), () => deia(args(big, n++), {}, { cwd }), RUNS);
    rows.push({ name: `${name}: ${backend}, ${label(count)} messages`, baseline: 'same, 1,000 messages', ...r, target: TARGET });
    if (!withInstructions) continue;
    const a = instructions(process.execPath, [deiaBin, ...args(small, 'i')], { env: { ...process.env, NO_COLOR: '1' } });
    if (a === null) {
      rows.push({ name: `${name}: ${backend} [instructions: valgrind not installed]` });
      continue;
    }
    const b = instructions(process.execPath, [deiaBin, ...args(big, 'i')], { env: { ...process.env, NO_COLOR: '1' } });
    rows.push({ name: `${name}: ${backend}, ${label(count)} messages [M instructions]`, baseline: 'same, 1,000 messages', a, b, ratio: b / a, runs: 1, target: TARGET });
  }
  return rows;
}

/**
 * Without cleanup a mailbox keeps every message it ever got, and `inbox` folds all of it: shown
 * (no target) with TARGET's 1,000 messages (its share of the big hive) in its mailbox.
 */
function uncompactedRows(small, uncompacted) {
  const args = COMMANDS[1][1];
  const r = abCompare(() => deia(args(small)), () => deia(args(uncompacted)), RUNS);
  const rows = [{ name: `${COMMANDS[1][0]}: new folder, never cleaned: TARGET's inbox holding 1,000 messages`, baseline: 'holding ~100', ...r }];
  const a = instructions(process.execPath, [deiaBin, ...args(small)]);
  if (a !== null) {
    const b = instructions(process.execPath, [deiaBin, ...args(uncompacted)]);
    rows.push({ name: `${rows[0].name} [M instructions]`, baseline: 'holding ~100', a, b, ratio: b / a, runs: 1 });
  }
  return rows;
}

async function folderRows() {
  const specs = { ...SPECS, uncompacted: { ...SPECS.small, target: { archived: 0, read: 950, unread: 50 } } };
  // Folders deia 0.1 made (the fixtures write its layout; `deia init` would refuse one), each
  // upgraded in place by `deia migrate --upgrade` to the layout a new folder gets: cost follows work there.
  const hives = { small: tempHive(), big: tempHive(), uncompacted: tempHive() };
  try {
    const counts = {};
    const upgrade = {};
    const dir = (k) => ['--dir', hives[k].hive];
    for (const k of ['small', 'big', 'uncompacted']) {
      fs.mkdirSync(hives[k].hive, { recursive: true });
      counts[k] = await timed(`0.1 folder hive, ${k}`, () => writeFolderHive(hives[k].hive, specs[k]));
      upgrade[k] = await timed(`upgrade of the ${k} hive`, () => deia(['migrate', '--upgrade', ...dir(k)]));
    }
    const up = { name: `deia migrate --upgrade: 0.1 folder, ${label(counts.big)} messages`, baseline: 'same, 1,000 messages', a: upgrade.small, b: upgrade.big, ratio: upgrade.big / upgrade.small, runs: 1 };
    return [up, ...compare('new folder (default layout)', dir('small'), dir('big'), counts.big, true), ...uncompactedRows(dir('small'), dir('uncompacted'))];
  } finally {
    for (const h of Object.values(hives)) h.cleanup();
  }
}

/**
 * Shared-buffer accesses (pg_stat_database blks_hit + blks_read) of one command, counted by the
 * server: unlike wall time they do not move with the machine's load. A backend's counts reach the
 * statistics when it exits, shortly after the command does: polled until they settle.
 */
async function bufferAccesses(admin, url, args, cwd) {
  const db = new URL(url).pathname.slice(1);
  const count = async () => Number((await admin.query('SELECT blks_hit + blks_read AS n FROM pg_stat_database WHERE datname = $1', [db])).rows[0].n);
  const settle = async (prev) => {
    for (let i = 0, n = await count(); i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const m = await count();
      if (m === n && m !== prev) return m;
      n = m;
    }
    throw new Error(`the buffer statistics of ${db} did not settle`);
  };
  const before = await count();
  deia(args, {}, { cwd });
  return (await settle(before)) - before;
}

async function bufferRows(admin, small, big, count, cwd) {
  const rows = [];
  for (const [name, args] of COMMANDS) {
    const a = [];
    const b = [];
    for (let i = 0; i < 5; i++) {
      a.push(await bufferAccesses(admin, small[1], args(small, `b${i}`), cwd));
      b.push(await bufferAccesses(admin, big[1], args(big, `b${i}`), cwd));
    }
    const [ma, mb] = [median(a), median(b)];
    rows.push({ name: `${name}: PostgreSQL, ${label(count)} messages [buffer accesses]`, baseline: 'same, 1,000 messages', a: ma, b: mb, ratio: mb / ma, runs: 5, target: TARGET });
  }
  return rows;
}

async function postgresRows() {
  const { openBackend } = await import(path.join(root, 'dist/lib/index.mjs'));
  const { default: pg } = await import('pg');
  const server = startPg();
  const dbs = [];
  // Run from an empty folder: a command on a PostgreSQL store still records presence in a .deia/ it finds around it.
  const cwd = tempHive();
  try {
    const counts = {};
    const urls = {};
    for (const k of ['small', 'big']) {
      const db = await freshDb(server.url);
      dbs.push(db);
      urls[k] = db.url;
      await (await openBackend(db.url, { migrate: true })).close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        counts[k] = await timed(`PostgreSQL hive, ${k}`, () => writePostgresHive(c, SPECS[k]));
      } finally {
        await c.end();
      }
    }
    const store = (k) => ['--store', urls[k]];
    const rows = compare('PostgreSQL', store('small'), store('big'), counts.big, false, cwd.dir);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      return [...rows, ...(await bufferRows(admin, store('small'), store('big'), counts.big, cwd.dir))];
    } finally {
      await admin.end();
    }
  } finally {
    for (const db of dbs) await db.drop();
    server.stop();
    cwd.cleanup();
  }
}

export async function run() {
  if (!BIG) say('the big hive holds 100,000 messages; DEIA_BENCH_BIG=1 for 1,000,000 (2–3 minutes more)');
  return [...(await folderRows()), ...(await postgresRows())];
}
