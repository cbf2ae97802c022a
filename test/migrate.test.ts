/**
 * `deia migrate --to postgres://…`: a hive folder's messaging copied into an empty PostgreSQL
 * store answers `status --json`, `inbox BOT --all --json`, `conversation` and `export` as the
 * folder did; claims and leases carry over (the holder can still ack); a store that already
 * holds a hive is refused and left as it was; the folder is not changed.
 * The folders copied FROM here are hives deia 0.1 made (test/fixtures/hive-0.1/, see make.mjs
 * there): this deia runs no other command on one, so what the folder "answers" is what deia 0.1
 * answered about it, recorded next to it (NAME.answers.json) at the fixture's pinned time. Every
 * command here runs at that time (DEIA_NOW): the fixtures' TTLs and leases are relative to it.
 * A folder copied TO (a path or file://) is always written in the storage interface's layout,
 * the layout a new folder starts in; `migrate --upgrade` moves a 0.1 folder onto it in place.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, snapshotTree, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { withBackend } from './helpers/logs.js';
import { answersAsRecorded, exportLogs, fixture as hive01, type Fixture, type FixtureName, type Logs } from './helpers/hive-0.1.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function ok(r: CliResult, what: string): CliResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** A copy of a hive deia 0.1 made, as `<root>/.deia`, with what deia 0.1 answered about it. */
const fixture = (name: FixtureName): Fixture => hive01(name, cleanups);

describe('deia migrate --to postgres://…', () => {
  it('copies a folder hive so that status, inbox --all, conversation and export answer as the folder did', async () => {
    const fx = fixture('messaging'); // read, claimed, leased, released, acked, pending, expired, a rotated log generation
    const { root, dir, env } = fx;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const secret = decodeURIComponent(new URL(db.url).password);
    const before = snapshotTree(dir);

    const m = ok(deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env }), 'migrate');
    expect(m.stdout + m.stderr).not.toContain(secret);
    const res = JSON.parse(m.stdout);
    expect(res).toMatchObject({ from: dir, to: expect.stringMatching(/:\*\*\*@/), direction: 'folder-to-postgres', messaging: { bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 }, not_copied: [] });
    expect(snapshotTree(dir)).toEqual(before); // the folder is left as it was

    // What the folder answered (deia 0.1, at the fixture's time), the store answers at that time,
    // every recorded command in the recorded order (export first: a later command's delivery step
    // retries the mail pending for LATER, due by then, and the export would show that retry).
    answersAsRecorded(fx, ['--store', db.url], 'postgres', root);
    expect(fx.recorded(['status', '--json']).by_status).toMatchObject({ pending: 1, expired: 1, read: 3 });

    // `deia export` still reads the 0.1 folder (as migrate does), its rotated generation included.
    const fx1 = JSON.parse(ok(deia(['--dir', dir, 'export', '--out', path.join(fx.out, 'fx'), '--json'], { env }), 'export folder').stdout);
    expect(fx1.logs[0].archived_lines).toBeGreaterThan(0); // the rotated generation came along
    expect(exportLogs(['--dir', dir], path.join(fx.out, 'fx2'), env)).toEqual(fx.recorded(['export']));
    expect(snapshotTree(dir)).toEqual(before);

    // The store works on from there: the lease's holder acks it, the next unread is claimed.
    ok(deia(['--store', db.url, 'ack', fx.ids.leased, '--inbox', 'B', '--as', 'W1'], { env }), 'ack the restored lease');
    const next = JSON.parse(ok(deia(['--store', db.url, 'inbox', '--as', 'B', '--next', '--json'], { env }), 'claim on postgres').stdout);
    expect(next.status).toBe('read');
    // The one the folder would have handed out next: m3, the older of the two P2 left unread
    // (m4 P0 and m2 were read, m1 was the lease just acked, m0 was acked after its release).
    expect(next.message_id).toBe(fx.ids.sent[3]);
    const recordedB = fx.recorded(['inbox', 'B', '--all', '--json', '--as', 'B']) as Array<{ message_id: string; status: string; claimed_by: string | null }>;
    expect(recordedB.filter((x) => x.status === 'delivered' && !x.claimed_by).map((x) => x.message_id).sort()).toEqual([fx.ids.sent[3], fx.ids.sent[5]].sort());
  }, 120_000);

  it('refuses a store that already holds a hive, and leaves it as it was; no --to is a usage error, a folder path is a new folder in the new layout', async () => {
    const fx = fixture('messaging');
    const { root, dir, env } = fx;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['init', '--store', db.url], { env }), 'init');
    ok(deia(['--store', db.url, 'send', 'X', 'already here', '--as', 'Y'], { env }), 'a hive on postgres');
    ok(deia(['--store', db.url, 'export', '--out', path.join(root, 'before')], { env }), 'export before');
    const before = snapshotTree(dir);
    const r = deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('ENOTEMPTY');
    expect(r.stderr).toMatch(/^deia: postgres:\/\/[^:]+:\*\*\*@\S+ already holds a hive \(/);
    ok(deia(['--store', db.url, 'export', '--out', path.join(root, 'after')], { env }), 'export after');
    expect(fs.readFileSync(path.join(root, 'after', 'bot-messaging.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(root, 'before', 'bot-messaging.jsonl'), 'utf8'));

    const u = deia(['--dir', dir, 'migrate'], { env });
    expect(u.code, u.stderr).toBe(2);
    expect(u.stderr).toMatch(/^deia: migrate needs --to/);
    // A folder path as --to is a new folder, written in the storage interface's layout (as a new folder starts).
    const elsewhere = path.join(root, 'elsewhere');
    const c = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', elsewhere, '--json'], { env }), 'migrate to a folder path').stdout);
    expect(c).toMatchObject({ from: dir, to: elsewhere, direction: 'folder-to-interface', messaging: { bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 } });
    expect(JSON.parse(fs.readFileSync(path.join(elsewhere, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(elsewhere, 'mailboxes'))).toBe(false);
    expect(snapshotTree(dir)).toEqual(before);
    expect(JSON.parse(ok(deia(['--dir', elsewhere, 'status', '--json'], { env }), 'status').stdout)).toEqual(fx.recorded(['status', '--json']));
  }, 120_000);
});

describe('deia migrate, both ways: folder → PostgreSQL → folder', () => {
  it('a round trip answers export, status, inbox --all, stats and recommend as the original did, and a repeated --key stores nothing', async () => {
    // Messaging and routing, by the commands bots run (make.mjs): registrations, sends with
    // priorities and TTLs, mail pending for a bot without an inbox, reads, a leased claim,
    // `send --key` sends, outcomes of two task types (one pair reset), recommendations, and an
    // outcome appended to performance.jsonl by hand (an import, not folded yet).
    const fx = fixture('routing');
    const { root, dir, env } = fx;
    const keyed = fx.ids.keyed as string[];
    const leased = fx.ids.leased as string;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const secret = decodeURIComponent(new URL(db.url).password);
    const back = path.join(root, 'restored', '.deia');
    const before = snapshotTree(dir);

    const there = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env }), 'migrate to postgres').stdout);
    expect(there).toMatchObject({
      direction: 'folder-to-postgres',
      messaging: { bots: 4, inbox_messages: 6, pending: 2, failed_or_expired: 0, keys: 2 },
      // Not task_types (the folded learning states carried over as they are): the fixture's
      // state/scheduling.json names the inode of the performance.jsonl it folded, which no copy
      // of the folder keeps (a git checkout, the temporary copy here), so the learning is folded
      // again from the outcomes (task_types 0); stats and recommend below answer as recorded.
      routing: { outcomes: 9 },
      not_copied: [],
    });
    const home = deia(['migrate', '--from', db.url, '--to', back], { env });
    ok(home, 'migrate back to a folder');
    expect(home.stdout + home.stderr).not.toContain(secret);
    expect(home.stdout).toContain(`to ${back}:`);
    // The copy migrates on; with DEIA_STORE naming a store, --from names the folder to copy.
    const third = await freshDatabase();
    cleanups.push(third.drop);
    const again = JSON.parse(ok(deia(['migrate', '--from', back, '--to', third.url, '--json'], { env: { ...env, DEIA_STORE: db.url } }), 'the copy migrates on').stdout);
    // The copy is in the storage interface's layout: a plain --dir finds its layout.json.
    expect(again).toMatchObject({ from: pathToFileURL(back).href, direction: 'interface-to-postgres' });
    expect(JSON.parse(fs.readFileSync(path.join(back, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(back, 'mailboxes'))).toBe(false);
    expect(again.messaging).toEqual(there.messaging);
    expect(again.routing).toEqual(there.routing);
    expect(snapshotTree(dir)).toEqual(before); // the original is left as it was
    expect(fs.readdirSync(path.dirname(back))).toEqual(['.deia']); // no temporary folder left beside it

    // The store and the copy answer as the original did (deia 0.1's recorded answers, at its time).
    const hives: Array<[string, string[]]> = [
      ['postgres', ['--store', db.url]],
      ['copy', ['--dir', back]],
    ];
    const all = (args: string[]) => hives.map(([name, where]) => ok(deia([...where, ...args], { env, cwd: root }), `${name}: ${args.join(' ')}`).stdout);
    const same = (args: string[]) => {
      const [p, c] = all(args).map((o) => JSON.parse(o));
      const f = fx.recorded(args);
      expect(p, `postgres: ${args.join(' ')}`).toEqual(f);
      expect(c, `copy: ${args.join(' ')}`).toEqual(f);
      return f;
    };
    const exports = (tag: string) => hives.map(([name, where]) => exportLogs(where, path.join(fx.out, `export-${tag}-${name}`), env, root));
    const first = fx.recorded(['export']) as Logs;
    const [pFirst, cFirst] = exports('first');
    expect(pFirst, 'postgres export').toEqual(first);
    expect(cFirst, 'copy export').toEqual(first);
    expect(first['adaptive-scheduling.jsonl']).toContain('"learning_reset"');
    expect(first['bot-messaging.jsonl']).toContain('"message_claimed"');

    const status = same(['status', '--json']);
    expect(status.by_status).toMatchObject({ pending: 2, read: 2 });
    for (const bot of ['A', 'B', 'R1', 'R2']) {
      const inbox = same(['inbox', bot, '--all', '--json', '--as', bot]);
      if (bot === 'B') expect(inbox.find((m: { message_id: string }) => m.message_id === leased)).toMatchObject({ claimed_by: 'W1', claim_count: 1, lease_expires_at: expect.any(String) });
    }
    const stats = same(['stats', '--json']);
    expect(stats.length).toBeGreaterThanOrEqual(4);
    for (const type of ['code', 'review']) {
      const f = same(['recommend', type, '--json', '--seed', '11']); // each candidate's health level too
      expect(f.recommended_bot).toMatch(/^R[12]$/);
    }

    // A repeated --key returns the first send's messages and stores nothing, on both.
    for (const [to, body, from, key] of [
      ['R2', 'once only', 'A', 'deploy-42'],
      ['NOBODY', 'keyed and pending', 'B', 'k/2 with spaces'],
    ] as const) {
      for (const out of all(['send', to, body, '--as', from, '--key', key, '--json'])) {
        const v = JSON.parse(out);
        expect((Array.isArray(v) ? v : [v]).map((m: { message_id: string }) => m.message_id)).toEqual([keyed[to === 'R2' ? 0 : 1]]);
      }
    }
    same(['status', '--json']);
    const [pLast, cLast] = exports('last');
    expect(cLast).toEqual(pLast);
    expect(pLast!['adaptive-scheduling.jsonl'].length).toBeGreaterThan(first['adaptive-scheduling.jsonl'].length); // the recommendations above
    expect(pLast!['bot-messaging.jsonl']).toBe(first['bot-messaging.jsonl']); // nothing stored by the repeats

    // The copy is a working hive (in the new layout): the lease's holder acks, the claim is recorded there.
    ok(deia(['--dir', back, 'ack', leased, '--inbox', 'B', '--as', 'W1'], { env }), 'ack in the copy');
    expect(JSON.parse(ok(deia(['--dir', back, 'inbox', 'B', '--all', '--json', '--as', 'B'], { env }), 'copy inbox').stdout).find((m: { message_id: string }) => m.message_id === leased).status).toBe('read');
    expect(fs.existsSync(path.join(back, 'config.json'))).toBe(true);
  }, 240_000);

  it('a hive made on PostgreSQL copies into a folder that answers as the store does (claims, resets)', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-pgfirst-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const run = (args: string[]) => ok(deia(['--store', db.url, ...args], { cwd: root }), args.join(' '));
    const id = (r: CliResult) => JSON.parse(r.stdout).message_id as string;
    run(['init']);
    for (const b of ['B', 'R1', 'R2']) run(['register', b]);
    for (const [p, body] of [['P1', 'one'], ['P2', 'two'], ['P0', 'three'], ['P3', 'four'], ['P2', 'five']]) run(['send', 'B', body!, '--as', 'A', '-p', p!]);
    run(['inbox', '--as', 'B', '--next']); // a final claim: read
    const released = id(run(['inbox', 'B', '--next', '--lease', '5m', '--as', 'W1', '--json']));
    run(['nack', released, '--as', 'W1']);
    const again = id(run(['inbox', 'B', '--next', '--lease', '5m', '--as', 'W2', '--json'])); // the same one, claimed twice
    expect(again).toBe(released);
    const acked = id(run(['inbox', 'B', '--next', '--lease', '5m', '--as', 'W1', '--json']));
    run(['ack', acked, '--as', 'W1']);
    for (const [bot, type, res] of [['R1', 'code', '--success'], ['R2', 'code', '--failure'], ['R1', 'review', '--success'], ['R2', 'review', '--success']]) {
      run(['record', bot!, type!, res!, '--duration', '2s']);
    }
    run(['stats', 'reset', '--bot', 'R2', '--type', 'code']);
    run(['record', 'R2', 'code', '--success', '--duration', '1s']);
    run(['recommend', 'code', '--seed', '3']);

    const back = path.join(root, 'hive');
    const res = JSON.parse(ok(deia(['--store', db.url, 'migrate', '--to', back, '--json'], { cwd: root }), 'migrate --store … --to FOLDER').stdout);
    // A folder path is written in the storage interface's layout (a plain --dir then finds its layout.json).
    expect(res).toMatchObject({ direction: 'postgres-to-interface', to: back, messaging: { bots: 4, inbox_messages: 5 }, routing: { outcomes: 4, task_types: 2 } }); // the one the reset forgot is not among them
    expect(fs.existsSync(path.join(back, 'layout.json'))).toBe(true);
    const env = { DEIA_NOW: new Date().toISOString() };
    const both = (args: string[]) => {
      const p = JSON.parse(ok(deia(['--store', db.url, ...args], { env, cwd: root }), `postgres ${args.join(' ')}`).stdout);
      const f = JSON.parse(ok(deia(['--dir', back, ...args], { env, cwd: root }), `folder ${args.join(' ')}`).stdout);
      expect(f, args.join(' ')).toEqual(p);
      return f;
    };
    both(['status', '--json']);
    const inbox = both(['inbox', 'B', '--all', '--json', '--as', 'B']);
    expect(inbox.find((m: { message_id: string }) => m.message_id === released)).toMatchObject({ claim_count: 2, claimed_by: 'W2', status: 'delivered' });
    const stats = both(['stats', '--json']);
    // What the reset forgot stays forgotten in the copy: R2's code learning starts at its one outcome since.
    expect(stats.find((x: { bot_id: string; task_type: string }) => x.bot_id === 'R2' && x.task_type === 'code')).toMatchObject({ samples: 1 });
    const pe = path.join(root, 'pe');
    const fe = path.join(root, 'fe');
    ok(deia(['--store', db.url, 'export', '--out', pe], { cwd: root }), 'export postgres');
    ok(deia(['--dir', back, 'export', '--out', fe], { cwd: root }), 'export folder');
    for (const f of ['bot-messaging.jsonl', 'adaptive-scheduling.jsonl']) expect(fs.readFileSync(path.join(fe, f), 'utf8'), f).toBe(fs.readFileSync(path.join(pe, f), 'utf8'));
    // The second claimer still holds its lease in the folder: it acks there.
    ok(deia(['--dir', back, 'ack', released, '--inbox', 'B', '--as', 'W2']), 'ack in the folder');
  }, 240_000);

  it('refuses a target that is not empty, a folder holding a hive, a store holding one, and a bad URL: one line, nothing written', async () => {
    const fx = fixture('routing');
    const { root, dir, env } = fx;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['--dir', dir, 'migrate', '--to', db.url], { env }), 'migrate');
    const refused = (r: CliResult, code: number, re: RegExp) => {
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };

    // Into a folder that holds a hive (the 0.1 one itself), or anything else.
    const busy = path.join(root, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'notes.txt'), 'mine\n');
    const hiveBefore = snapshotTree(dir);
    refused(deia(['migrate', '--from', db.url, '--to', dir], { env }), 1, /^deia: \S+ already holds a hive \(/);
    refused(deia(['--store', db.url, 'migrate', '--to', busy], { env }), 1, /^deia: \S+busy is not empty \(/);
    expect(snapshotTree(dir)).toEqual(hiveBefore);
    expect(fs.readdirSync(busy)).toEqual(['notes.txt']);
    expect(fs.readdirSync(root).filter((f) => f.includes('migrating'))).toEqual([]);

    // Into a store that holds one (the one just written): refused, and it answers as before.
    const statusBefore = ok(deia(['--store', db.url, 'status', '--json'], { env, cwd: root }), 'status').stdout;
    const statsBefore = ok(deia(['--store', db.url, 'stats', '--json'], { env, cwd: root }), 'stats').stdout;
    expect(JSON.parse(statusBefore)).toEqual(fx.recorded(['status', '--json']));
    expect(JSON.parse(statsBefore)).toEqual(fx.recorded(['stats', '--json']));
    const other = fixture('routing');
    refused(deia(['--dir', other.dir, 'migrate', '--to', db.url], { env }), 1, /^deia: postgres:\/\/\S+ already holds a hive \(/);
    expect(JSON.parse(ok(deia(['--store', db.url, 'status', '--json'], { env, cwd: root }), 'status').stdout)).toEqual(JSON.parse(statusBefore));
    expect(JSON.parse(ok(deia(['--store', db.url, 'stats', '--json'], { env, cwd: root }), 'stats').stdout)).toEqual(JSON.parse(statsBefore));

    // A bad URL, either way: a database that is not there, a URL that does not parse.
    const missing = new URL(db.url);
    missing.pathname = '/deia_no_such_database';
    const fresh = path.join(root, 'never');
    const badEnv = { ...env, DEIA_PG_RECONNECT_MS: '0' };
    for (const bad of [missing.toString(), 'postgres://[broken']) {
      const from = deia(['migrate', '--from', bad, '--to', fresh], { env: badEnv });
      expect(from.code, from.stderr).not.toBe(0);
      expect(from.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(from.stderr).toMatch(/^deia: /);
      expect(fs.existsSync(fresh)).toBe(false);
      const to = deia(['--dir', dir, 'migrate', '--to', bad], { env: badEnv });
      expect(to.code, to.stderr).not.toBe(0);
      expect(to.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(to.stderr).not.toContain(decodeURIComponent(new URL(db.url).password));
    }
    expect(fs.readdirSync(root).filter((f) => f.includes('migrating') || f === 'never')).toEqual([]);
    expect(snapshotTree(dir)).toEqual(hiveBefore);

    // --from with --store: a usage error (exit 2); a store into itself holds a hive already.
    refused(deia(['migrate', '--from', db.url, '--to', db.url], { env }), 1, /^deia: postgres:\/\/\S+ already holds a hive \(/);
    refused(deia(['--store', db.url, 'migrate', '--from', db.url, '--to', fresh], { env }), 2, /^deia: give --from or --store, not both/);
    expect(fs.existsSync(fresh)).toBe(false);
  }, 240_000);
});

describe('deia migrate, both ways, with tasks and health', () => {
  it('a round trip answers task list, task show, health, health history and the alert export as the original did; no check after a move writes an alert', async () => {
    // Bots worked on tasks and reported health, every command at one instant (make.mjs): tasks
    // done, failed, failed and retried on another bot, assigned, in progress; samples with one
    // bot driven CRITICAL and another DEGRADED and back, a `health reset` of one bot after its
    // failures, and the alerts all of that wrote; B1 looked at its inbox half a minute later.
    // Settings: the machine is not measured (its cpu would differ).
    const fx = fixture('tasks-health');
    const { root, dir, env } = fx;
    const ids = fx.ids as Record<string, string>;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const back = path.join(root, 'restored', '.deia');
    const before = snapshotTree(dir);
    // Settings (no machine measured) come from the original's config.json: on the store through
    // the folder in use (the current folder's .deia, which is the 0.1 one), in the copy as copied over.
    const where: Record<string, [string[], string | undefined]> = { postgres: [['--store', db.url], root], copy: [['--dir', back], undefined] };
    const on = (hive: string, args: string[]) => {
      const r = deia([...where[hive]![0], ...args], { env, cwd: where[hive]![1] });
      // `deia health` exits 2 while a bot is CRITICAL, as it should.
      expect(r.code, `${hive}: ${args.join(' ')}: ${r.stderr}`).toBe(args[0] === 'health' && args[1] !== 'history' && args[1] !== 'export' ? 2 : 0);
      return r.stdout;
    };
    const alertLines = (hive: string) => exportLogs(where[hive]![0], path.join(fx.out, `alerts-${hive}-${fs.readdirSync(fx.out).length}`), env, where[hive]![1])['health-alerts.jsonl'];
    const original = (fx.recorded(['export']) as Logs)['health-alerts.jsonl'];
    expect(original).toContain('"critical_alert"');
    expect(original).toContain('"recovery_detected"');

    const there = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env }), 'migrate to postgres').stdout);
    expect(there).toMatchObject({
      direction: 'folder-to-postgres',
      tasks: { tasks: 5, open: 3, archived_records: 0 },
      health: { samples: 7, alert_lines: original.trimEnd().split('\n').length, archived_samples: 0 },
      presence: { bots: 3 }, // LEAD, B1, B2 ran commands; B3 only reported samples
      not_copied: [],
    });
    expect(snapshotTree(dir)).toEqual(before);
    // The first check on the store: B3 is still CRITICAL, no alert is written for it (or anything).
    const firstThere = JSON.parse(on('postgres', ['health', '--json']));
    expect(firstThere.alerts).toEqual([]);
    expect(firstThere.bots.find((b: { bot_id: string }) => b.bot_id === 'B3')).toMatchObject({ level: 'CRITICAL' });
    expect(alertLines('postgres')).toBe(original);

    const home = JSON.parse(ok(deia(['migrate', '--from', db.url, '--to', back, '--json'], { env, cwd: root }), 'migrate back').stdout);
    expect(home).toMatchObject({ direction: 'postgres-to-interface', tasks: there.tasks, health: there.health, presence: there.presence, not_copied: [] });
    fs.copyFileSync(path.join(dir, 'config.json'), path.join(back, 'config.json'));
    const firstBack = JSON.parse(on('copy', ['health', '--json']));
    expect(firstBack.alerts).toEqual([]);
    expect(alertLines('copy')).toBe(original);

    // Both answer every command deia 0.1 answered about the original, as it did.
    const hives = ['postgres', 'copy'];
    for (const h of hives) answersAsRecorded(fx, where[h]![0], h, where[h]![1]);
    const list = fx.recorded(['task', 'list', '--json']);
    expect(list.map((t: { task_id: string; status: string }) => [t.task_id, t.status])).toEqual([
      [ids.done, 'done'],
      [ids.retried, 'assigned'],
      [ids.failed, 'failed'],
      [ids.assigned, 'assigned'],
      [ids.started, 'in_progress'],
    ]);
    const report = fx.recorded(['health', '--json']);
    expect(report.alerts).toEqual([]);
    expect(report.bots.map((b: { bot_id: string; level: string }) => [b.bot_id, b.level])).toEqual([
      ['B1', 'HEALTHY'],
      ['B2', 'HEALTHY'],
      ['B3', 'CRITICAL'],
    ]); // B2's failures before its reset are not counted again, on either
    expect(report.bots[0].last_seen).toBe(fx.now); // B1's presence (not its last sample, at 09:00:00) came along
    for (const [metric, bot] of [['cpu', 'B3'], ['memory', 'B2'], ['cpu', undefined], ['error_rate', undefined], ['queue_depth', 'B1']] as const) {
      expect(fx.recorded(['health', 'history', metric, '--since', '1d', '--json', ...(bot ? ['--bot', bot] : [])]).samples.length, `${metric} ${bot ?? ''}`).toBeGreaterThan(0);
    }
    for (const h of hives) expect(alertLines(h), h).toBe(original);

    // The tasks go on from there, the assignment messages being the same: the assigned bot holds
    // its assignment in its inbox (by message id), starts and finishes the task; a dispatch
    // assigns nothing again and resends nothing.
    const assigned = fx.recorded(['task', 'show', ids.assigned, '--json']);
    for (const h of hives) {
      const inbox = JSON.parse(on(h, ['inbox', 'B3', '--all', '--json', '--as', 'B3']));
      expect(inbox.find((m: { message_id: string }) => m.message_id === assigned.message_id), h).toMatchObject({ metadata: { task_id: ids.assigned } });
      expect(JSON.parse(on(h, ['task', 'dispatch', '--json'])), h).toMatchObject({ dispatched: 0, redispatched: 0, resent: 0, assignments: [] });
      on(h, ['task', 'start', ids.assigned, '--as', 'B3']);
      on(h, ['task', 'done', ids.assigned, '--as', 'B3']);
    }
    const both = (args: string[]) => {
      const [p, c] = hives.map((h) => JSON.parse(on(h, args)));
      expect(c, `copy: ${args.join(' ')}`).toEqual(p);
      return p;
    };
    expect(both(['task', 'show', ids.assigned, '--json'])).toMatchObject({ status: 'done', bot_id: 'B3', attempts: 1 });
    both(['task', 'list', '--json']);
    both(['stats', '--json']);
  }, 240_000);

  it('a store with tasks and health (a reset, archived records) copies into a folder that answers as the store does', async () => {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    const env = { DEIA_NOW: now };
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const { root, dir: settings } = tempHive('deia-pgfirst-tasks-');
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    ok(deia(['init', '--dir', settings]), 'a folder for the settings');
    const cfg = JSON.parse(fs.readFileSync(path.join(settings, 'config.json'), 'utf8'));
    cfg.health.measure_system = false;
    fs.writeFileSync(path.join(settings, 'config.json'), JSON.stringify(cfg));
    const pg = (args: string[], code = 0, at = env) => {
      const r = deia(['--store', db.url, ...args], { env: at, cwd: root });
      expect(r.code, `postgres: ${args.join(' ')}: ${r.stderr}`).toBe(code);
      return r.stdout;
    };
    pg(['init']);
    // Ten days ago: a task done and two samples, which the cleanup below archives.
    const long = { DEIA_NOW: new Date(Date.parse(now) - 10 * 86_400_000).toISOString() };
    for (const b of ['LEAD', 'B1', 'B2']) pg(['register', b], 0, long);
    const gone = JSON.parse(pg(['task', 'submit', 'long ago', '--type', 'code', '--to', 'B1', '--as', 'LEAD', '--json'], 0, long)).task_id as string;
    pg(['task', 'done', gone, '--as', 'B1'], 0, long);
    pg(['health', 'record', 'cpu', '12', '--bot', 'B1'], 0, long);
    pg(['health', 'record', 'cpu', '13', '--bot', 'B1'], 0, long);
    const submit = (desc: string, to: string) => JSON.parse(pg(['task', 'submit', desc, '--type', 'code', '--to', to, '--as', 'LEAD', '--json'])).task_id as string;
    const done = submit('one', 'B1');
    pg(['task', 'start', done, '--as', 'B1']);
    pg(['task', 'done', done, '--as', 'B1']);
    const retried = submit('two', 'B2');
    pg(['task', 'fail', retried, '--as', 'B2', '--retry', '--reason', 'no disk']);
    const open = submit('three', 'B2');
    pg(['health', 'record', 'cpu', '96', '--bot', 'B1']); // CRITICAL
    pg(['health', 'record', 'memory', '90', '--bot', 'B2']); // DEGRADED
    pg(['health', 'reset', '--bot', 'B2']); // a `health_reset` record: B2's samples so far are forgotten
    pg(['health', 'record', 'memory', '30', '--bot', 'B2']);
    pg(['health', '--json'], 2);
    const cleaned = JSON.parse(pg(['cleanup', '--json']));
    expect(cleaned.task_retention).toMatchObject({ archived: 1 });
    const archivedTasks = (await withBackend(db.url, async (b) => {
      const out: unknown[] = [];
      for await (const r of b.log('tasks').streamArchive()) out.push(r);
      return out;
    })).length;
    expect(archivedTasks).toBeGreaterThanOrEqual(3); // submitted, assigned, message, done, outcome

    const back = path.join(root, 'hive');
    const res = JSON.parse(ok(deia(['--store', db.url, 'migrate', '--to', back, '--json'], { env, cwd: root }), 'migrate to a folder').stdout);
    expect(res).toMatchObject({
      direction: 'postgres-to-interface',
      tasks: { tasks: 3, open: 2, archived_records: archivedTasks },
      health: { samples: 2, archived_samples: 2 }, // B1's 96 and B2's 30: the reset forgot B2's 90
      not_copied: [],
    });
    expect(fs.readFileSync(path.join(back, 'archive', 'tasks.jsonl'), 'utf8')).toContain(gone);
    expect(fs.readFileSync(path.join(back, 'archive', 'metrics.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(2);
    expect(fs.readFileSync(path.join(back, 'metrics.jsonl'), 'utf8')).not.toContain('health_reset');
    fs.copyFileSync(path.join(settings, 'config.json'), path.join(back, 'config.json'));
    const folder = (args: string[], code = 0) => {
      const r = deia(['--dir', back, ...args], { env });
      expect(r.code, `folder: ${args.join(' ')}: ${r.stderr}`).toBe(code);
      return r.stdout;
    };
    const alerts = (run: (args: string[]) => string, tag: string) => {
      run(['export', '--out', path.join(root, tag)]);
      return fs.readFileSync(path.join(root, tag, 'health-alerts.jsonl'), 'utf8');
    };
    const storeAlerts = alerts(pg, 'pe');
    expect(storeAlerts).toContain('"critical_alert"');
    expect(JSON.parse(folder(['health', '--json'], 2)).alerts).toEqual([]); // B1 still CRITICAL: no new alert
    expect(alerts(folder, 'fe')).toBe(storeAlerts);
    const both = (args: string[], code = 0) => {
      const p = JSON.parse(pg(args, code));
      expect(JSON.parse(folder(args, code)), args.join(' ')).toEqual(p);
      return p;
    };
    expect(both(['task', 'list', '--json']).map((t: { task_id: string }) => t.task_id)).toEqual([done, retried, open]);
    for (const id of [done, retried, open]) both(['task', 'show', id, '--json']);
    const missing = [pg(['task', 'show', gone], 1), folder(['task', 'show', gone], 1)];
    expect(missing[1]).toBe(missing[0]);
    both(['health', '--json'], 2);
    expect(both(['health', 'history', 'memory', '--bot', 'B2', '--since', '5d', '--json']).samples.map((x: { value: number }) => x.value)).toEqual([30]);
    expect(both(['health', 'history', 'cpu', '--bot', 'B1', '--since', '5d', '--json']).samples.map((x: { value: number }) => x.value)).toEqual([96]);
    both(['health', 'export', '--json']);
    both(['bots', '--json']);
    // The copy works on: B2 starts the task it holds, and a dispatch assigns nothing twice.
    expect(JSON.parse(folder(['task', 'dispatch', '--json']))).toMatchObject({ dispatched: 0, resent: 0 });
    folder(['task', 'start', open, '--as', 'B2']);
  }, 240_000);

  it("copies a folder's archived task records and samples into the store's archives and back; refuses a store holding only tasks or only health records", async () => {
    const fx = fixture('tasks-health');
    const { root, dir, env } = fx;
    const ids = fx.ids as Record<string, string>;
    // What deia 0.1's cleanup leaves after its retention (deia cleanup refuses a 0.1 folder now, so
    // it is done here by hand, as retention does it): the finished task's records moved, in their
    // order, from tasks.jsonl to archive/tasks.jsonl, and the oldest sample (the machine's cpu) from
    // metrics.jsonl to archive/metrics.jsonl. The folded states name the old files' inodes, which
    // a copy does not keep: they are folded again from the files.
    const move = (file: string, out: (line: string, i: number) => boolean) => {
      const lines = fs.readFileSync(path.join(dir, file), 'utf8').trimEnd().split('\n');
      const moved = lines.filter(out);
      fs.mkdirSync(path.join(dir, 'archive'), { recursive: true });
      fs.appendFileSync(path.join(dir, 'archive', file), moved.map((l) => l + '\n').join(''));
      fs.writeFileSync(path.join(dir, file), lines.filter((l, i) => !out(l, i)).map((l) => l + '\n').join(''));
      return moved.length;
    };
    const archivedTasks = move('tasks.jsonl', (l) => JSON.parse(l).task_id === ids.done);
    expect(archivedTasks).toBeGreaterThanOrEqual(5); // submitted, assigned, message, started, done, outcome
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n')[0]!)).toMatchObject({ metric: 'cpu', bot: null });
    expect(move('metrics.jsonl', (_l, i) => i === 0)).toBe(1);

    const db = await freshDatabase();
    cleanups.push(db.drop);
    // A health check on the new store (aggregates and levels, no record) does not make it a hive.
    expect(deia(['--store', db.url, 'health', '--json'], { env, cwd: root }).code).toBe(3);
    const m = deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env });
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({
      tasks: { tasks: 4, open: 3, archived_records: archivedTasks },
      health: { samples: 6, archived_samples: 1 },
      not_copied: [],
    });
    // In the store's archives (what `export` and a copy back read), not among its live records.
    const back = path.join(root, 'back', '.deia');
    ok(deia(['migrate', '--from', db.url, '--to', back], { env, cwd: root }), 'migrate back');
    for (const f of ['archive/tasks.jsonl', 'archive/metrics.jsonl', 'tasks.jsonl', 'metrics.jsonl']) {
      expect(fs.readFileSync(path.join(back, f), 'utf8'), f).toBe(fs.readFileSync(path.join(dir, f), 'utf8'));
    }
    fs.copyFileSync(path.join(dir, 'config.json'), path.join(back, 'config.json'));
    const shown = [deia(['--store', db.url, 'task', 'show', ids.done], { env, cwd: root }), deia(['--dir', back, 'task', 'show', ids.done], { env })];
    for (const r of shown) expect(r.code, r.stderr).toBe(1);
    expect(shown[1]!.stderr).toBe(shown[0]!.stderr);
    const list = (where: string[]) => JSON.parse(ok(deia([...where, 'task', 'list', '--json'], { env, cwd: root }), 'task list').stdout);
    // The live tasks are the ones deia 0.1 listed, without the archived one.
    const live = fx.recorded(['task', 'list', '--json']).filter((t: { task_id: string }) => t.task_id !== ids.done);
    expect(list(['--store', db.url])).toEqual(live);
    expect(list(['--dir', back])).toEqual(live);
    const health = (where: string[]) => JSON.parse(ok(deia([...where, 'health', 'export', '--json'], { env, cwd: root }), 'health export').stdout);
    expect(health(['--dir', back])).toEqual(health(['--store', db.url]));
    expect(exportLogs(['--dir', back], path.join(fx.out, 'back'), env)).toEqual(exportLogs(['--store', db.url], path.join(fx.out, 'pg'), env, root));

    // Into a store holding only a task record, or only a health sample: refused, nothing written.
    for (const fill of [
      (url: string) => withBackend(url, (b) => b.log('tasks').append([{ event: 'submitted', task_id: 'x1', timestamp: fx.now, task_type: 'code', description: 'd', priority: 'P2', submitted_by: null }])),
      async (url: string) => void ok(deia(['--store', url, 'health', 'record', 'cpu', '10', '--bot', 'X'], { env, cwd: root }), 'a sample'),
    ]) {
      const other = await freshDatabase();
      cleanups.push(other.drop);
      ok(deia(['init', '--store', other.url]), 'init');
      await fill(other.url);
      const r = deia(['--dir', dir, 'migrate', '--to', other.url, '--json'], { env });
      expect(r.code, r.stderr).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('ENOTEMPTY');
      await withBackend(other.url, async (b) => {
        for (const log of ['bots', 'bot-messaging', 'performance']) for await (const _ of b.log(log).stream()) expect.fail(`${log} was written`);
      });
    }
  }, 240_000);

  it('a folder owing a task outcome (a 0.1 task done killed before recording it) is copied with the outcome recorded once', async () => {
    const fx = fixture('tasks-health');
    const { root, dir, env } = fx;
    const ids = fx.ids as Record<string, string>;
    // The done transition of B1's started task, and no outcome: 0.1's next task command would have recorded it.
    fs.appendFileSync(path.join(dir, 'tasks.jsonl'), JSON.stringify({ event: 'done', task_id: ids.started, timestamp: fx.now, bot_id: 'B1', duration_ms: 1000, tokens: null, attempt: 1, perf_from: null }) + '\n');
    const before = snapshotTree(dir);
    const samples = (where: string[]) =>
      JSON.parse(ok(deia([...where, 'stats', '--json'], { env, cwd: root }), 'stats').stdout).find((x: { bot_id: string; task_type: string }) => x.bot_id === 'B1' && x.task_type === 'code')?.samples ?? 0;
    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['--dir', dir, 'migrate', '--to', db.url], { env }), 'migrate to postgres');
    expect(snapshotTree(dir)).toEqual(before); // the source is only read
    expect(samples(['--store', db.url])).toBe(1);
    expect(JSON.parse(ok(deia(['--store', db.url, 'task', 'show', ids.started, '--json'], { env, cwd: root }), 'show').stdout)).toMatchObject({ status: 'done' });
    // Upgraded in place the same way; a dispatch there owes nothing and records nothing again.
    ok(deia(['--dir', dir, 'migrate', '--upgrade'], { env }), 'upgrade');
    expect(samples(['--dir', dir])).toBe(1);
    ok(deia(['--dir', dir, 'task', 'dispatch'], { env }), 'dispatch');
    expect(samples(['--dir', dir])).toBe(1);
    const exported = path.join(fx.out, 'owed-export');
    ok(deia(['--dir', dir, 'export', '--out', exported], { env }), 'export');
    const recorded = fs.readFileSync(path.join(exported, 'adaptive-scheduling.jsonl'), 'utf8').split('\n').filter((l) => l.includes(ids.started!));
    expect(recorded.filter((l) => l.includes('"performance_recorded"'))).toHaveLength(1); // one audit line for its outcome
  }, 240_000);
});

describe("the folder's upgrade: deia migrate --to file://… (the storage interface's layout)", () => {
  it('each 0.1 folder copied into the new layout answers every recorded command as deia 0.1 did, through a plain --dir (its layout.json chooses), and works on', () => {
    for (const name of ['messaging', 'routing', 'tasks-health'] as const) {
      const fx = fixture(name);
      const { root, dir, env } = fx;
      const before = snapshotTree(dir);
      const upgraded = path.join(root, 'upgraded', '.deia');
      const url = pathToFileURL(upgraded).href;
      const res = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', url, '--json'], { env }), `${name}: migrate to file://`).stdout);
      expect(res, name).toMatchObject({ from: dir, to: url, direction: 'folder-to-interface', not_copied: [] });
      expect(snapshotTree(dir), name).toEqual(before); // the original is left as it was
      expect(fs.readdirSync(path.dirname(upgraded))).toEqual(['.deia']); // no temporary folder left beside it
      expect(JSON.parse(fs.readFileSync(path.join(upgraded, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
      expect(fs.existsSync(path.join(upgraded, 'mailboxes'))).toBe(false);
      expect(fs.readdirSync(path.join(upgraded, 'queues')).length).toBeGreaterThan(0);
      answersAsRecorded(fx, ['--dir', upgraded], name);
      expect(fs.existsSync(path.join(upgraded, 'mailboxes'))).toBe(false); // nothing written the folder's way
    }
  }, 240_000);

  it('a folder with tasks and health copied into the new layout keeps its settings, works on, and copies on into a folder and a store', async () => {
    const fx = fixture('tasks-health');
    const { root, dir, env } = fx;
    const ids = fx.ids as Record<string, string>;
    const upgraded = path.join(root, 'upgraded', '.deia');
    const url = pathToFileURL(upgraded).href;
    const res = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', url, '--json'], { env }), 'migrate to file://').stdout);
    expect(res).toMatchObject({ from: dir, to: url, direction: 'folder-to-interface', tasks: { tasks: 5, open: 3 }, health: { samples: 7 }, not_copied: [] });
    // Its settings came along (no machine measured, the hour-long backoff), without store.url.
    const cfg = JSON.parse(fs.readFileSync(path.join(upgraded, 'config.json'), 'utf8'));
    expect(cfg.health.measure_system).toBe(false);
    expect(cfg.messaging.backoff_base_ms).toBe(3_600_000);

    const where: Record<string, string[]> = { upgraded: ['--dir', upgraded] };
    const on = (hive: string, args: string[]) => {
      const r = deia([...where[hive]!, ...args], { env, cwd: root });
      expect(r.code, `${hive}: ${args.join(' ')}: ${r.stderr}`).toBe(args[0] === 'health' && args.length === 2 ? 2 : 0);
      return r.stdout;
    };
    // From the new layout on: into a folder, into a store; each answers as the upgraded one (and so as deia 0.1 did).
    const back = path.join(root, 'back', '.deia');
    // A folder path is a new folder in the same layout (as a new folder starts): a copy of the upgraded one.
    expect(JSON.parse(ok(deia(['--dir', upgraded, 'migrate', '--to', back, '--json'], { env }), 'file:// to folder').stdout)).toMatchObject({ from: url, to: back, direction: 'interface-to-interface' });
    expect(JSON.parse(fs.readFileSync(path.join(back, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(back, 'mailboxes'))).toBe(false);
    where.back = ['--dir', back];
    const db = await freshDatabase();
    cleanups.push(db.drop);
    expect(JSON.parse(ok(deia(['migrate', '--from', url, '--to', db.url, '--json'], { env }), 'file:// to postgres').stdout)).toMatchObject({ direction: 'interface-to-postgres' });
    where.postgres = ['--store', db.url];
    // Every command ran at one pinned instant: mail of one priority and time is compared as a set
    // (the order of such a tie is not kept from one backend to another).
    const byId = (l: Array<{ message_id: string }>) => [...l].sort((a, b) => (a.message_id < b.message_id ? -1 : 1));
    for (const h of ['back', 'postgres']) {
      for (const args of [['task', 'list', '--json'], ['inbox', 'B2', '--all', '--json', '--as', 'B2'], ['health', '--json'], ['stats', '--json'], ['bots', '--json']]) {
        const norm = (v: unknown) => (args[0] === 'inbox' ? byId(v as Array<{ message_id: string }>) : v);
        expect(norm(JSON.parse(on(h, args))), `${h}: ${args.join(' ')}`).toEqual(norm(JSON.parse(on('upgraded', args))));
      }
    }
    expect(JSON.parse(on('back', ['task', 'list', '--json']))).toEqual(fx.recorded(['task', 'list', '--json']));

    // It is a working hive: B3 starts and finishes its assignment; a dispatch assigns nothing twice.
    on('upgraded', ['task', 'start', ids.assigned!, '--as', 'B3']);
    on('upgraded', ['task', 'done', ids.assigned!, '--as', 'B3']);
    expect(JSON.parse(on('upgraded', ['task', 'show', ids.assigned!, '--json']))).toMatchObject({ status: 'done', bot_id: 'B3', attempts: 1 });
    expect(JSON.parse(on('upgraded', ['task', 'dispatch', '--json']))).toMatchObject({ dispatched: 0, redispatched: 0, resent: 0 });
    expect(fs.existsSync(path.join(upgraded, 'mailboxes'))).toBe(false); // nothing written the folder's way
  }, 240_000);

  it('a folder with messaging copied into the new layout works on: the lease holder acks, a repeated --key stores nothing', () => {
    const fx = fixture('routing');
    const { root, dir, env } = fx;
    const upgraded = path.join(root, 'upgraded', '.deia');
    ok(deia(['--dir', dir, 'migrate', '--to', pathToFileURL(upgraded).href], { env }), 'migrate to file://');
    const run = (args: string[]) => ok(deia(['--dir', upgraded, ...args], { env }), args.join(' ')).stdout;
    run(['ack', fx.ids.leased, '--inbox', 'B', '--as', 'W1']);
    expect(JSON.parse(run(['inbox', 'B', '--all', '--json', '--as', 'B'])).find((m: { message_id: string }) => m.message_id === fx.ids.leased)).toMatchObject({ status: 'read' });
    const sent = JSON.parse(run(['send', 'R2', 'once only', '--as', 'A', '--key', 'deploy-42', '--json']));
    expect((Array.isArray(sent) ? sent : [sent]).map((m: { message_id: string }) => m.message_id)).toEqual([fx.ids.keyed[0]]);
    expect(JSON.parse(run(['inbox', 'R2', '--all', '--json', '--as', 'R2']))).toEqual(fx.recorded(['inbox', 'R2', '--all', '--json', '--as', 'R2']));
  }, 120_000);

  it('one folder is never written both ways: file:// refuses a folder-layout hive, a non-empty target is refused, a folder path as --to is written in the new layout', () => {
    const fx = fixture('routing');
    const { root, dir, env } = fx;
    const before = snapshotTree(dir);
    const refused = (r: CliResult, code: number, re: RegExp) => {
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };
    const asStore = pathToFileURL(dir).href;
    refused(deia(['--store', asStore, 'status'], { env }), 1, /holds a hive in deia 0\.1's folder layout \(\S+\), not the storage interface's \(upgrade it once where it is: deia --dir \S+ migrate --upgrade .*migrate --to/);
    refused(deia(['--store', asStore, 'send', 'B', 'hi', '--as', 'A'], { env }), 1, /holds a hive in deia 0\.1's folder layout/);
    refused(deia(['--store', asStore, 'init'], { env }), 1, /holds a hive in deia 0\.1's folder layout/);
    refused(deia(['--dir', dir, 'migrate', '--to', asStore], { env }), 1, /already holds a hive/);
    expect(snapshotTree(dir)).toEqual(before);
    // A folder path as --to: the same as file://, a new folder in the storage interface's layout (the 0.1 layout is never written).
    const other = path.join(root, 'other');
    expect(JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', other, '--json'], { env }), 'migrate to a folder path').stdout)).toMatchObject({ from: dir, to: other, direction: 'folder-to-interface' });
    expect(snapshotTree(dir)).toEqual(before);
    expect(JSON.parse(fs.readFileSync(path.join(other, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(other, 'mailboxes'))).toBe(false);
    for (const args of [['status', '--json'], ['stats', '--json'], ['inbox', 'B', '--all', '--json', '--as', 'B']]) {
      expect(JSON.parse(ok(deia(['--dir', other, ...args], { env }), args.join(' ')).stdout), args.join(' ')).toEqual(fx.recorded(args));
    }
    refused(deia(['--dir', dir, 'migrate', '--to', other], { env }), 1, /already holds a hive/); // and it is not written twice
    // A new hive made through file:// is marked at once, and a plain --dir then runs it the same way.
    const fresh = path.join(root, 'fresh', '.deia');
    ok(deia(['--store', pathToFileURL(fresh).href, 'init']), 'init file://');
    expect(fs.existsSync(path.join(fresh, 'layout.json'))).toBe(true);
    ok(deia(['--dir', fresh, 'send', 'B', 'hi', '--as', 'A']), 'send with --dir');
    expect(fs.existsSync(path.join(fresh, 'mailboxes'))).toBe(false);
    expect(JSON.parse(ok(deia(['--store', pathToFileURL(fresh).href, 'status', '--json']), 'status').stdout).total).toBe(1);
  });
});

describe('deia migrate --upgrade: a folder moved onto the storage interface\'s layout where it is', () => {
  it('each 0.1 folder answers every recorded command as deia 0.1 did under the same --dir, keeps the old files beside it, and is a no-op the second time', () => {
    const counts = {
      messaging: { messaging: { bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 } },
      routing: { messaging: { bots: 4, inbox_messages: 6, pending: 2, keys: 2 }, routing: { outcomes: 9 } }, // task_types: see the round trip above
      'tasks-health': { tasks: { tasks: 5, open: 3 }, health: { samples: 7 } },
    };
    for (const name of ['messaging', 'routing', 'tasks-health'] as const) {
      const fx = fixture(name);
      const { root, dir, env } = fx;
      const on = (args: string[]) => deia(['--dir', dir, ...args], { env });
      const old = snapshotTree(dir);

      const res = JSON.parse(ok(on(['migrate', '--upgrade', '--json']), `${name}: upgrade`).stdout);
      expect(res, name).toMatchObject({ dir, upgraded: true, kept_as: expect.stringContaining('.deia.folder-layout-'), ...counts[name] });
      expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false);
      expect(snapshotTree(res.kept_as), name).toEqual(old); // the old files, as they were
      expect(fs.readdirSync(root).sort()).toEqual(['.deia', path.basename(res.kept_as)].sort()); // nothing else left beside it
      answersAsRecorded(fx, ['--dir', dir], `${name} upgraded`);

      // It goes on working, and a second upgrade does nothing.
      if (name === 'tasks-health') {
        ok(on(['task', 'start', fx.ids.assigned, '--as', 'B3']), 'start');
        ok(on(['task', 'done', fx.ids.assigned, '--as', 'B3']), 'done');
        expect(JSON.parse(on(['task', 'show', fx.ids.assigned, '--json']).stdout)).toMatchObject({ status: 'done' });
      } else {
        ok(on(['ack', fx.ids.leased, '--inbox', 'B', '--as', 'W1']), `${name}: the lease's holder acks`);
        expect(JSON.parse(on(['inbox', 'B', '--all', '--json', '--as', 'B']).stdout).find((m: { message_id: string }) => m.message_id === fx.ids.leased)).toMatchObject({ status: 'read' });
      }
      const again = snapshotTree(dir);
      expect(JSON.parse(ok(on(['migrate', '--upgrade', '--json']), 'again').stdout)).toMatchObject({ upgraded: false, kept_as: null });
      expect(snapshotTree(dir)).toEqual(again);
      expect(fs.readdirSync(root).length).toBe(2);
    }
    // A new folder starts in that layout: nothing to upgrade there either, and nothing changed.
    const fresh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deia-upgrade-fresh-')), '.deia');
    cleanups.push(() => fs.rmSync(path.dirname(fresh), { recursive: true, force: true }));
    ok(deia(['--dir', fresh, 'init']), 'init a new folder');
    const freshBefore = snapshotTree(fresh);
    expect(JSON.parse(ok(deia(['--dir', fresh, 'migrate', '--upgrade', '--json']), 'upgrade a new folder').stdout)).toMatchObject({ dir: fresh, upgraded: false, kept_as: null });
    expect(snapshotTree(fresh)).toEqual(freshBefore);
  }, 240_000);

  // The old test also had a claimer of the folder's own code (`inbox --wait`) running while the
  // folder was upgraded under it, and saw it stop with ELAYOUT: this deia refuses to run any such
  // command on a 0.1 folder (EOLDLAYOUT, test/upgrade-0.1.test.ts), so that process can no longer
  // be started from here; that part is gone.
  it('refuses while a bot holds a lock (nothing changed), refuses --to and a link; the upgraded folder keeps its permissions', () => {
    const fx = fixture('routing');
    const { root, dir, env } = fx;
    const before = snapshotTree(dir);
    // A live holder (this test process) of one of the hive's locks.
    const lock = path.join(dir, 'outbox.jsonl.lock');
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, 'owner'), JSON.stringify({ pid: process.pid, host: os.hostname(), ns: fs.readlinkSync('/proc/self/ns/pid'), token: 'x' }));
    const busy = deia(['--dir', dir, 'migrate', '--upgrade'], { env });
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.stderr).toMatch(/^deia: \S+ is in use: outbox\.jsonl\.lock is held by process \d+; nothing was changed \(stop the bots/);
    expect(fs.readdirSync(root)).toEqual(['.deia']);
    // doctor --repair leaves a hive in use as it is too, saying why.
    const doc = deia(['--dir', dir, 'doctor', '--repair', '--json'], { env });
    expect(doc.code, doc.stderr).toBe(1);
    expect(JSON.parse(doc.stdout).problems.find((p: { kind: string }) => p.kind === 'old_layout')).toMatchObject({ repaired: false, action: expect.stringMatching(/not upgraded: .*is in use/) });
    expect(fs.readdirSync(root)).toEqual(['.deia']);
    fs.rmSync(lock, { recursive: true });
    expect(snapshotTree(dir)).toEqual(before);
    const usage = deia(['--dir', dir, 'migrate', '--upgrade', '--to', path.join(root, 'x')], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^deia: --upgrade changes the folder in place: give neither --to nor --from/);

    // Reached through a link: the folder itself is named (others may use it there), nothing changed.
    const link = path.join(root, 'linked');
    fs.symlinkSync(dir, link);
    const viaLink = deia(['--dir', link, 'migrate', '--upgrade'], { env });
    expect(viaLink.code).toBe(2);
    expect(viaLink.stderr).toMatch(/is a link to \S+: upgrade the folder itself \(deia --dir \S+ migrate --upgrade\)/);
    fs.rmSync(link);
    expect(snapshotTree(dir)).toEqual(before);

    // The folder keeps its permissions (a team's shared folder stays shared), and runs.
    fs.chmodSync(dir, 0o750);
    ok(deia(['--dir', dir, 'migrate', '--upgrade'], { env }), 'upgrade');
    expect(fs.statSync(dir).mode & 0o777).toBe(0o750);
    ok(deia(['--dir', dir, 'send', 'W9', 'after the upgrade', '--as', 'A'], { env }), 'send');
    expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false); // nothing written the old way
    expect(JSON.parse(ok(deia(['--dir', dir, 'inbox', 'W9', '--next', '--json', '--as', 'W9'], { env }), 'claim').stdout)).toMatchObject({ content: 'after the upgrade' });
  }, 120_000);
});
