/**
 * `deia migrate --to postgres://…`: a hive folder's messaging copied into an empty PostgreSQL
 * store answers `status --json`, `inbox BOT --all --json`, `conversation` and `export` as the
 * folder does; claims and leases carry over (the holder can still ack); a store that already
 * holds a hive is refused and left as it was; the folder is not changed.
 * The folders copied FROM here are 0.1 folders (makeFolderLayout): reading that layout is what
 * migrate and `migrate --upgrade` keep it for. A folder copied TO (a path or file://) is always
 * written in the storage interface's layout, the layout a new folder starts in.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, snapshotTree, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { withBackend } from './helpers/logs.js';
import { makeFolderLayout } from './helpers/folder-layout.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function ok(r: CliResult, what: string): CliResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** A folder hive with every kind of messaging state: read, claimed, leased, released, acked, pending, expired, rotated log. */
function busyFolder(): { root: string; dir: string; leased: string } {
  const { root, dir } = tempHive('deia-migrate-');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  makeFolderLayout(dir); // a 0.1 folder: the source migrate reads by the folder's own code (its rotated log generation too)
  const run = (args: string[], env: Record<string, string> = {}) => ok(deia(['--dir', dir, ...args], { env }), args.join(' '));
  const id = (r: CliResult) => JSON.parse(r.stdout).message_id as string;
  run(['init']);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  cfg.cleanup.log_max_bytes = 1024;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  run(['register', 'R']);
  run(['inbox', '--as', 'B']);
  const ids = ['P2', 'P1', 'P3', 'P2', 'P0', 'P2'].map((p, i) => id(run(['send', 'B', `m${i}`, '--as', 'A', '-p', p, '--json'])));
  run(['send', 'A', 'back to you', '--as', 'B']);
  expect(JSON.parse(run(['cleanup', '--json']).stdout).rotated).toHaveLength(1);
  run(['send', 'GHOST', 'too late', '--as', 'A', '--ttl', '1']);
  run(['deliver'], { DEIA_NOW: new Date(Date.now() + 5_000).toISOString() }); // its TTL passed: expired
  run(['inbox', '--as', 'B', '--next']); // m4 (P0), read by a final claim
  run(['read', ids[2]!, '--as', 'B']);
  const leased = id(run(['inbox', 'B', '--next', '--lease', '10m', '--as', 'W1', '--json'])); // m1 (P1)
  const released = id(run(['inbox', 'B', '--next', '--lease', '10m', '--as', 'W2', '--json']));
  run(['nack', released, '--as', 'W2']);
  const acked = id(run(['inbox', 'B', '--next', '--lease', '10m', '--as', 'W2', '--json']));
  run(['ack', acked, '--as', 'W2']);
  run(['send', 'LATER', 'wait for your inbox', '--as', 'A']); // pending: LATER has none
  return { root, dir, leased };
}

describe('deia migrate --to postgres://…', () => {
  it('copies a folder hive so that status, inbox --all, conversation and export answer the same on both', async () => {
    const { root, dir, leased } = busyFolder();
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const secret = decodeURIComponent(new URL(db.url).password);
    const before = snapshotTree(dir);

    const m = ok(deia(['--dir', dir, 'migrate', '--to', db.url, '--json']), 'migrate');
    expect(m.stdout + m.stderr).not.toContain(secret);
    const res = JSON.parse(m.stdout);
    expect(res).toMatchObject({ from: dir, to: expect.stringMatching(/:\*\*\*@/), direction: 'folder-to-postgres', messaging: { bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 }, not_copied: [] });
    expect(snapshotTree(dir)).toEqual(before); // the folder is left as it was

    // Pinned to one instant, so ages and lease states are computed alike on both.
    const env = { DEIA_NOW: new Date(Date.now()).toISOString() };
    const both = (args: string[]) => [
      ok(deia(['--dir', dir, ...args], { env }), `folder ${args.join(' ')}`).stdout,
      ok(deia(['--store', db.url, ...args], { env }), `postgres ${args.join(' ')}`).stdout,
    ];
    const [fs1, ps1] = both(['status', '--json']);
    expect(JSON.parse(ps1!)).toEqual(JSON.parse(fs1!));
    expect(JSON.parse(fs1!).by_status).toMatchObject({ pending: 1, expired: 1, read: 3 });
    for (const bot of ['A', 'B', 'R']) {
      const [f, p] = both(['inbox', bot, '--all', '--json', '--as', bot]);
      expect(JSON.parse(p!), bot).toEqual(JSON.parse(f!));
    }
    const [fc, pc] = both(['conversation', 'A', 'B', '--json']);
    expect(JSON.parse(pc!)).toEqual(JSON.parse(fc!));

    const fx = JSON.parse(ok(deia(['--dir', dir, 'export', '--out', path.join(root, 'fx'), '--json']), 'export folder').stdout);
    ok(deia(['--store', db.url, 'export', '--out', path.join(root, 'px')]), 'export postgres');
    expect(fx.logs[0].archived_lines).toBeGreaterThan(0); // the rotated generation came along
    for (const f of ['bot-messaging.jsonl', 'adaptive-scheduling.jsonl', 'health-alerts.jsonl']) {
      expect(fs.readFileSync(path.join(root, 'px', f), 'utf8'), f).toBe(fs.readFileSync(path.join(root, 'fx', f), 'utf8'));
    }

    // The store works on from there: the lease's holder acks it, the next unread is claimed.
    ok(deia(['--store', db.url, 'ack', leased, '--inbox', 'B', '--as', 'W1']), 'ack the restored lease');
    const next = JSON.parse(ok(deia(['--store', db.url, 'inbox', '--as', 'B', '--next', '--json']), 'claim on postgres').stdout);
    expect(next.status).toBe('read');
    const unread = JSON.parse(ok(deia(['--dir', dir, 'inbox', '--as', 'B', '--json'], { env }), 'folder unread').stdout);
    expect(unread[0].message_id).toBe(next.message_id); // the one the folder would have handed out next
  }, 120_000);

  it('refuses a store that already holds a hive, and leaves it as it was; no --to is a usage error, a folder path is a new folder in the new layout', async () => {
    const { root, dir } = busyFolder();
    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['init', '--store', db.url]), 'init');
    ok(deia(['--store', db.url, 'send', 'X', 'already here', '--as', 'Y']), 'a hive on postgres');
    ok(deia(['--store', db.url, 'export', '--out', path.join(root, 'before')]), 'export before');
    const r = deia(['--dir', dir, 'migrate', '--to', db.url, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('ENOTEMPTY');
    expect(r.stderr).toMatch(/^deia: postgres:\/\/[^:]+:\*\*\*@\S+ already holds a hive \(/);
    ok(deia(['--store', db.url, 'export', '--out', path.join(root, 'after')]), 'export after');
    expect(fs.readFileSync(path.join(root, 'after', 'bot-messaging.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(root, 'before', 'bot-messaging.jsonl'), 'utf8'));

    const u = deia(['--dir', dir, 'migrate']);
    expect(u.code, u.stderr).toBe(2);
    expect(u.stderr).toMatch(/^deia: migrate needs --to/);
    // A folder path as --to is a new folder, written in the storage interface's layout (as a new folder starts).
    const elsewhere = path.join(root, 'elsewhere');
    const before = snapshotTree(dir);
    const c = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', elsewhere, '--json']), 'migrate to a folder path').stdout);
    expect(c).toMatchObject({ from: dir, to: elsewhere, direction: 'folder-to-interface', messaging: { bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 } });
    expect(JSON.parse(fs.readFileSync(path.join(elsewhere, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(elsewhere, 'mailboxes'))).toBe(false);
    expect(snapshotTree(dir)).toEqual(before);
    const env = { DEIA_NOW: new Date().toISOString() };
    const status = (where: string) => JSON.parse(ok(deia(['--dir', where, 'status', '--json'], { env }), `status ${where}`).stdout);
    expect(status(elsewhere)).toEqual(status(dir));
  }, 120_000);
});

/**
 * A folder hive with messaging and routing, built by the commands bots run: registrations,
 * sends with priorities and TTLs, mail pending for a bot without an inbox, reads, a leased
 * claim, `send --key` sends, outcomes of two task types (one pair reset), recommendations.
 */
function hiveWithRouting(): { root: string; dir: string; keyed: string[]; leased: string } {
  const { root, dir } = tempHive('deia-roundtrip-');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  makeFolderLayout(dir); // a 0.1 folder: migrate's source (and --upgrade's), with an outcome appended to its performance.jsonl
  const run = (args: string[]) => ok(deia(['--dir', dir, ...args]), args.join(' '));
  const ids = (r: CliResult) => {
    const v = JSON.parse(r.stdout);
    return (Array.isArray(v) ? v : [v]).map((m: { message_id: string }) => m.message_id);
  };
  run(['init']);
  // Mail waiting for an inbox is retried an hour after it was sent: not while the three hives are
  // compared (a retry's time is jittered at random, differently in each).
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  cfg.messaging.backoff_base_ms = cfg.messaging.backoff_cap_ms = 3_600_000;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  for (const b of ['R1', 'R2', 'B']) run(['register', b]);
  run(['send', 'B', 'urgent', '--as', 'A', '-p', 'P0', '--ttl', '2h']);
  run(['send', 'B', 'soon', '--as', 'A', '-p', 'P1', '--subject', 'about the build']);
  run(['send', 'B', 'whenever', '--as', 'R1', '-p', 'P3', '--ttl', '10m']);
  const toRead = ids(run(['send', 'B', 'read me by id', '--as', 'R2', '--json']))[0]!;
  run(['send', 'R1', 'for you', '--as', 'B', '-p', 'P1']);
  run(['send', 'LATER', 'waits for an inbox', '--as', 'A', '--ttl', '1d']);
  const keyed = [...ids(run(['send', 'R2', 'once only', '--as', 'A', '--key', 'deploy-42', '--json'])), ...ids(run(['send', 'NOBODY', 'keyed and pending', '--as', 'B', '--key', 'k/2 with spaces', '--json']))];
  run(['inbox', '--as', 'B', '--next']); // the P0 one, read by a final claim
  run(['read', toRead, '--as', 'B']);
  const leased = ids(run(['inbox', 'B', '--next', '--lease', '30m', '--as', 'W1', '--json']))[0]!;
  const outcomes: Array<[string, string, boolean, string]> = [
    ['R1', 'code', true, '1.2s'],
    ['R1', 'code', true, '900ms'],
    ['R2', 'code', false, '4s'],
    ['R2', 'code', true, '2s'],
    ['R1', 'review', false, '3s'],
    ['R2', 'review', true, '1s'],
    ['R1', 'code', true, '1s'],
    ['R2', 'review', true, '1.5s'],
  ];
  for (const [bot, type, success, d] of outcomes) run(['record', bot, type, success ? '--success' : '--failure', '--duration', d, '--tokens', '700']);
  run(['recommend', 'code', '--seed', '7']);
  run(['stats', 'reset', '--bot', 'R1', '--type', 'review']);
  run(['record', 'R1', 'review', '--success', '--duration', '2s']);
  run(['recommend', 'review', '--greedy']);
  // An outcome appended by hand (an import): not folded yet, routing's next command folds it.
  const perf = path.join(dir, 'performance.jsonl');
  const last = JSON.parse(fs.readFileSync(perf, 'utf8').trimEnd().split('\n').pop()!);
  fs.appendFileSync(perf, JSON.stringify({ ...last, bot_id: 'R2', task_type: 'code', success: false, duration_ms: 6000 }) + '\n');
  return { root, dir, keyed, leased };
}

describe('deia migrate, both ways: folder → PostgreSQL → folder', () => {
  it('a round trip answers export, status, inbox --all, stats and recommend as the original, and a repeated --key stores nothing', async () => {
    const { root, dir, keyed, leased } = hiveWithRouting();
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const secret = decodeURIComponent(new URL(db.url).password);
    const back = path.join(root, 'restored', '.deia');
    const before = snapshotTree(dir);

    const there = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', db.url, '--json']), 'migrate to postgres').stdout);
    expect(there).toMatchObject({
      direction: 'folder-to-postgres',
      messaging: { bots: 4, inbox_messages: 6, pending: 2, failed_or_expired: 0, keys: 2 },
      routing: { outcomes: 9, task_types: 2 },
      not_copied: [],
    });
    const home = deia(['migrate', '--from', db.url, '--to', back]);
    ok(home, 'migrate back to a folder');
    expect(home.stdout + home.stderr).not.toContain(secret);
    expect(home.stdout).toContain(`to ${back}:`);
    // The copy migrates on; with DEIA_STORE naming a store, --from names the folder to copy.
    const third = await freshDatabase();
    cleanups.push(third.drop);
    const again = JSON.parse(ok(deia(['migrate', '--from', back, '--to', third.url, '--json'], { env: { DEIA_STORE: db.url } }), 'the copy migrates on').stdout);
    // The copy is in the storage interface's layout: a plain --dir finds its layout.json.
    expect(again).toMatchObject({ from: pathToFileURL(back).href, direction: 'interface-to-postgres' });
    expect(JSON.parse(fs.readFileSync(path.join(back, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(back, 'mailboxes'))).toBe(false);
    expect(again.messaging).toEqual(there.messaging);
    expect(again.routing).toEqual(there.routing);
    expect(snapshotTree(dir)).toEqual(before); // the original is left as it was
    expect(fs.readdirSync(path.dirname(back))).toEqual(['.deia']); // no temporary folder left beside it

    const hives: Array<[string, string[]]> = [
      ['folder', ['--dir', dir]],
      ['postgres', ['--store', db.url]],
      ['copy', ['--dir', back]],
    ];
    const env = { DEIA_NOW: new Date().toISOString() };
    const all = (args: string[]) => hives.map(([name, where]) => ok(deia([...where, ...args], { env }), `${name}: ${args.join(' ')}`).stdout);
    const same = (args: string[]) => {
      const [f, p, c] = all(args).map((o) => JSON.parse(o));
      expect(p, `postgres: ${args.join(' ')}`).toEqual(f);
      expect(c, `copy: ${args.join(' ')}`).toEqual(f);
      return f;
    };
    const exports = (tag: string) =>
      hives.map(([name, where]) => {
        const out = path.join(root, `export-${tag}-${name}`);
        ok(deia([...where, 'export', '--out', out]), `export ${name}`);
        return Object.fromEntries(['bot-messaging.jsonl', 'adaptive-scheduling.jsonl', 'health-alerts.jsonl'].map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]));
      });
    const sameExports = (tag: string) => {
      const [f, p, c] = exports(tag);
      expect(p, 'postgres export').toEqual(f);
      expect(c, 'copy export').toEqual(f);
      return f!;
    };
    const first = sameExports('first');
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
      const [f, p, c] = all(['recommend', type, '--json', '--seed', '11']).map((o) => JSON.parse(o));
      expect(c, `copy: recommend ${type}`).toEqual(f);
      expect(p, `postgres: recommend ${type}`).toEqual(f); // each candidate's health level too
      expect(f.recommended_bot).toMatch(/^R[12]$/);
    }

    // A repeated --key returns the first send's messages and stores nothing, on all three.
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
    const last = sameExports('last');
    expect(last['adaptive-scheduling.jsonl'].length).toBeGreaterThan(first['adaptive-scheduling.jsonl'].length); // the recommendations above
    expect(last['bot-messaging.jsonl']).toBe(first['bot-messaging.jsonl']); // nothing stored by the repeats

    // The copy is a working hive (in the new layout): the lease's holder acks, the claim is recorded there.
    ok(deia(['--dir', back, 'ack', leased, '--inbox', 'B', '--as', 'W1']), 'ack in the copy');
    expect(JSON.parse(ok(deia(['--dir', back, 'inbox', 'B', '--all', '--json', '--as', 'B']), 'copy inbox').stdout).find((m: { message_id: string }) => m.message_id === leased).status).toBe('read');
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
    const { root, dir } = hiveWithRouting();
    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['--dir', dir, 'migrate', '--to', db.url]), 'migrate');
    const refused = (r: CliResult, code: number, re: RegExp) => {
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };

    // Into a folder that holds a hive, or anything else.
    const busy = path.join(root, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'notes.txt'), 'mine\n');
    const hiveBefore = snapshotTree(dir);
    refused(deia(['migrate', '--from', db.url, '--to', dir]), 1, /^deia: \S+ already holds a hive \(/);
    refused(deia(['--store', db.url, 'migrate', '--to', busy]), 1, /^deia: \S+busy is not empty \(/);
    expect(snapshotTree(dir)).toEqual(hiveBefore);
    expect(fs.readdirSync(busy)).toEqual(['notes.txt']);
    expect(fs.readdirSync(root).filter((f) => f.includes('migrating'))).toEqual([]);

    // Into a store that holds one (the one just written): refused, and it answers as before.
    const pinned = { DEIA_NOW: new Date().toISOString() };
    const statusBefore = ok(deia(['--store', db.url, 'status', '--json'], { env: pinned }), 'status').stdout;
    const statsBefore = ok(deia(['--store', db.url, 'stats', '--json'], { env: pinned }), 'stats').stdout;
    const other = hiveWithRouting();
    refused(deia(['--dir', other.dir, 'migrate', '--to', db.url]), 1, /^deia: postgres:\/\/\S+ already holds a hive \(/);
    expect(JSON.parse(ok(deia(['--store', db.url, 'status', '--json'], { env: pinned }), 'status').stdout)).toEqual(JSON.parse(statusBefore));
    expect(JSON.parse(ok(deia(['--store', db.url, 'stats', '--json'], { env: pinned }), 'stats').stdout)).toEqual(JSON.parse(statsBefore));

    // A bad URL, either way: a database that is not there, a URL that does not parse.
    const missing = new URL(db.url);
    missing.pathname = '/deia_no_such_database';
    const fresh = path.join(root, 'never');
    const env = { DEIA_PG_RECONNECT_MS: '0' };
    for (const bad of [missing.toString(), 'postgres://[broken']) {
      const from = deia(['migrate', '--from', bad, '--to', fresh], { env });
      expect(from.code, from.stderr).not.toBe(0);
      expect(from.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(from.stderr).toMatch(/^deia: /);
      expect(fs.existsSync(fresh)).toBe(false);
      const to = deia(['--dir', dir, 'migrate', '--to', bad], { env });
      expect(to.code, to.stderr).not.toBe(0);
      expect(to.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(to.stderr).not.toContain(decodeURIComponent(new URL(db.url).password));
    }
    expect(fs.readdirSync(root).filter((f) => f.includes('migrating') || f === 'never')).toEqual([]);
    expect(snapshotTree(dir)).toEqual(hiveBefore);

    // --from with --store: a usage error (exit 2); a store into itself holds a hive already.
    refused(deia(['migrate', '--from', db.url, '--to', db.url]), 1, /^deia: postgres:\/\/\S+ already holds a hive \(/);
    refused(deia(['--store', db.url, 'migrate', '--from', db.url, '--to', fresh]), 2, /^deia: give --from or --store, not both/);
    expect(fs.existsSync(fresh)).toBe(false);
  }, 240_000);
});

/**
 * A folder hive where bots worked on tasks and reported health, every command at one instant
 * (so presence, samples and outcomes agree on when each bot was last seen): tasks done, failed,
 * failed and retried on another bot, assigned, in progress; samples with one bot driven
 * CRITICAL and another DEGRADED and back, a `health reset` of one bot after its failures, and
 * the alerts all of that wrote. Settings: the machine is not measured (its cpu would differ).
 */
function hiveWithTasksAndHealth(now: string): { root: string; dir: string; ids: Record<string, string> } {
  const { root, dir } = tempHive('deia-roundtrip-tasks-');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  makeFolderLayout(dir); // a 0.1 folder: migrate's source (and --upgrade's)
  const run = (args: string[]) => ok(deia(['--dir', dir, ...args], { env: { DEIA_NOW: now } }), args.join(' '));
  run(['init']);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  cfg.health.measure_system = false;
  cfg.messaging.backoff_base_ms = cfg.messaging.backoff_cap_ms = 3_600_000;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  for (const b of ['LEAD', 'B1', 'B2', 'B3']) run(['register', b]);
  const submit = (desc: string, type: string, to: string) => JSON.parse(run(['task', 'submit', desc, '--type', type, '--to', to, '--as', 'LEAD', '--json']).stdout).task_id as string;
  const ids: Record<string, string> = {};
  ids.done = submit('write the release notes', 'documentation', 'B1');
  run(['task', 'start', ids.done, '--as', 'B1']);
  run(['task', 'done', ids.done, '--as', 'B1', '--tokens', '1200']);
  ids.retried = submit('fix the flaky login test', 'code', 'B2');
  run(['task', 'start', ids.retried, '--as', 'B2']);
  run(['task', 'fail', ids.retried, '--as', 'B2', '--reason', 'cannot reproduce', '--retry']); // re-assigned to another bot
  ids.failed = submit('port the parser', 'code', 'B2');
  run(['task', 'fail', ids.failed, '--as', 'B2', '--reason', 'out of scope']);
  ids.assigned = submit('review the schema', 'review', 'B3');
  ids.started = submit('profile the build', 'code', 'B1');
  run(['task', 'start', ids.started, '--as', 'B1']);
  run(['task', 'dispatch']);

  run(['health', 'record', 'cpu', '30']); // the system component, from a sample
  run(['health', 'record', 'cpu', '40', '--bot', 'B1']);
  run(['health', 'record', 'cpu', '95', '--bot', 'B3']); // CRITICAL
  run(['health', 'record', 'cpu', '97', '--bot', 'B3']);
  run(['health', 'reset', '--bot', 'B2']); // its failures are not counted again
  run(['health', 'record', 'memory', '85', '--bot', 'B2']); // DEGRADED
  run(['health', 'record', 'memory', '20', '--bot', 'B2']); // and back
  run(['health', 'record', 'queue_depth', '3', '--bot', 'B1']);
  expect(deia(['--dir', dir, 'health'], { env: { DEIA_NOW: now } }).code).toBe(2); // CRITICAL: exit 2
  // B1 looks at its inbox half a minute later: its presence, not its last sample, is when it was last seen.
  ok(deia(['--dir', dir, 'inbox', '--as', 'B1'], { env: { DEIA_NOW: new Date(Date.parse(now) + 30_000).toISOString() } }), 'inbox');
  return { root, dir, ids };
}

describe('deia migrate, both ways, with tasks and health', () => {
  it('a round trip answers task list, task show, health, health history and the alert export as the original; no check after a move writes an alert', async () => {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    const env = { DEIA_NOW: new Date(Date.parse(now) + 30_000).toISOString() };
    const { root, dir, ids } = hiveWithTasksAndHealth(now);
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const back = path.join(root, 'restored', '.deia');
    const before = snapshotTree(dir);
    // Settings (no machine measured) come from the original's config.json: on the store through
    // the folder in use (the current folder's .deia), in the copy as copied over.
    const where: Record<string, [string[], string | undefined]> = { folder: [['--dir', dir], undefined], postgres: [['--store', db.url], root], copy: [['--dir', back], undefined] };
    const on = (hive: string, args: string[]) => {
      const r = deia([...where[hive]![0], ...args], { env, cwd: where[hive]![1] });
      // `deia health` exits 2 while a bot is CRITICAL, as it should.
      expect(r.code, `${hive}: ${args.join(' ')}: ${r.stderr}`).toBe(args[0] === 'health' && args[1] !== 'history' && args[1] !== 'export' ? 2 : 0);
      return r.stdout;
    };
    const alertLines = (hive: string) => {
      const out = path.join(root, `alerts-${hive}-${fs.readdirSync(root).length}`);
      on(hive, ['export', '--out', out]);
      return fs.readFileSync(path.join(out, 'health-alerts.jsonl'), 'utf8');
    };
    const original = alertLines('folder');
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

    const hives = ['folder', 'postgres', 'copy'];
    const same = (args: string[]) => {
      const [f, p, c] = hives.map((h) => JSON.parse(on(h, args)));
      expect(p, `postgres: ${args.join(' ')}`).toEqual(f);
      expect(c, `copy: ${args.join(' ')}`).toEqual(f);
      return f;
    };
    const list = same(['task', 'list', '--json']);
    expect(list.map((t: { task_id: string; status: string }) => [t.task_id, t.status])).toEqual([
      [ids.done, 'done'],
      [ids.retried, 'assigned'],
      [ids.failed, 'failed'],
      [ids.assigned, 'assigned'],
      [ids.started, 'in_progress'],
    ]);
    for (const status of ['assigned', 'in_progress', 'done', 'failed', 'queued']) same(['task', 'list', '--status', status, '--json']);
    for (const id of Object.values(ids)) same(['task', 'show', id, '--json']);
    const report = same(['health', '--json']);
    expect(report.alerts).toEqual([]);
    expect(report.bots.map((b: { bot_id: string; level: string }) => [b.bot_id, b.level])).toEqual([
      ['B1', 'HEALTHY'],
      ['B2', 'HEALTHY'],
      ['B3', 'CRITICAL'],
    ]); // B2's failures before its reset are not counted again, on any of the three
    expect(report.bots[0].last_seen).toBe(env.DEIA_NOW); // B1's presence came along
    same(['bots', '--json']);
    for (const [metric, bot] of [['cpu', 'B3'], ['memory', 'B2'], ['cpu', undefined], ['error_rate', undefined], ['queue_depth', 'B1']] as const) {
      const h = same(['health', 'history', metric, '--since', '1d', '--json', ...(bot ? ['--bot', bot] : [])]);
      expect(h.samples.length, `${metric} ${bot ?? ''}`).toBeGreaterThan(0);
    }
    same(['health', 'export', '--json']);
    for (const h of hives) expect(alertLines(h), h).toBe(original);

    // The tasks go on from there, the assignment messages being the same: the assigned bot holds
    // its assignment in its inbox (by message id), starts and finishes the task; a dispatch
    // assigns nothing again and resends nothing.
    const assigned = same(['task', 'show', ids.assigned, '--json']);
    for (const h of hives) {
      const inbox = JSON.parse(on(h, ['inbox', 'B3', '--all', '--json', '--as', 'B3']));
      expect(inbox.find((m: { message_id: string }) => m.message_id === assigned.message_id), h).toMatchObject({ metadata: { task_id: ids.assigned } });
      expect(JSON.parse(on(h, ['task', 'dispatch', '--json'])), h).toMatchObject({ dispatched: 0, redispatched: 0, resent: 0, assignments: [] });
      on(h, ['task', 'start', ids.assigned, '--as', 'B3']);
      on(h, ['task', 'done', ids.assigned, '--as', 'B3']);
    }
    expect(same(['task', 'show', ids.assigned, '--json'])).toMatchObject({ status: 'done', bot_id: 'B3', attempts: 1 });
    same(['task', 'list', '--json']);
    same(['stats', '--json']);
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

  it("copies a folder's archived task records and samples into the store's archives and back; refuses a store holding only tasks or only health records, and a folder owing a task outcome", async () => {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    const long = new Date(Date.parse(now) - 10 * 86_400_000).toISOString();
    const { root, dir } = tempHive('deia-migrate-archived-');
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    makeFolderLayout(dir); // a 0.1 folder: its archive files, and a task outcome it owes (planted in its tasks.jsonl)
    const run = (at: string, args: string[]) => ok(deia(['--dir', dir, ...args], { env: { DEIA_NOW: at } }), args.join(' ')).stdout;
    run(long, ['init']);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.health.measure_system = false;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    for (const b of ['LEAD', 'B1']) run(long, ['register', b]);
    const old = JSON.parse(run(long, ['task', 'submit', 'long ago', '--type', 'code', '--to', 'B1', '--as', 'LEAD', '--json'])).task_id;
    run(long, ['task', 'done', old, '--as', 'B1']);
    run(long, ['health', 'record', 'cpu', '50', '--bot', 'B1']);
    const recent = JSON.parse(run(now, ['task', 'submit', 'today', '--type', 'code', '--to', 'B1', '--as', 'LEAD', '--json'])).task_id;
    run(now, ['health', 'record', 'cpu', '20', '--bot', 'B1']);
    const cleaned = JSON.parse(run(now, ['cleanup', '--json']));
    expect(cleaned.task_retention).toMatchObject({ archived: 1 });
    const archivedTasks = fs.readFileSync(path.join(dir, 'archive', 'tasks.jsonl'), 'utf8').trimEnd().split('\n').length;
    expect(fs.readFileSync(path.join(dir, 'archive', 'metrics.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(1);

    const db = await freshDatabase();
    cleanups.push(db.drop);
    // A health check on the new store (aggregates and levels, no record) does not make it a hive.
    expect(deia(['--store', db.url, 'health', '--json'], { env: { DEIA_NOW: now }, cwd: root }).code).toBe(3);
    const m = deia(['--dir', dir, 'migrate', '--to', db.url, '--json'], { env: { DEIA_NOW: now } });
    expect(m.code, m.stderr).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({
      tasks: { tasks: 1, open: 1, archived_records: archivedTasks },
      health: { samples: 1, archived_samples: 1 },
      not_copied: [],
    });
    // In the store's archives (what `export` and a copy back read), not among its live records.
    const back = path.join(root, 'back', '.deia');
    ok(deia(['migrate', '--from', db.url, '--to', back], { env: { DEIA_NOW: now }, cwd: root }), 'migrate back');
    for (const f of ['archive/tasks.jsonl', 'archive/metrics.jsonl', 'tasks.jsonl', 'metrics.jsonl']) {
      expect(fs.readFileSync(path.join(back, f), 'utf8'), f).toBe(fs.readFileSync(path.join(dir, f), 'utf8'));
    }
    expect(deia(['--store', db.url, 'task', 'show', old], { cwd: root }).stderr).toBe(deia(['--dir', dir, 'task', 'show', old]).stderr);
    const pinned = { DEIA_NOW: now };
    const list = (where: string[]) => JSON.parse(ok(deia([...where, 'task', 'list', '--json'], { env: pinned, cwd: root }), 'task list').stdout);
    expect(list(['--store', db.url])).toEqual(list(['--dir', dir]));
    expect(list(['--store', db.url]).map((t: { task_id: string }) => t.task_id)).toEqual([recent]);
    const health = (where: string[]) => JSON.parse(ok(deia([...where, 'health', 'export', '--json'], { env: pinned, cwd: root }), 'health export').stdout);
    expect(health(['--store', db.url])).toEqual(health(['--dir', dir]));

    // Into a store holding only a task record, or only a health sample: refused, nothing written.
    for (const fill of [
      (url: string) => withBackend(url, (b) => b.log('tasks').append([{ event: 'submitted', task_id: 'x1', timestamp: now, task_type: 'code', description: 'd', priority: 'P2', submitted_by: null }])),
      async (url: string) => void ok(deia(['--store', url, 'health', 'record', 'cpu', '10', '--bot', 'X'], { env: pinned, cwd: root }), 'a sample'),
    ]) {
      const other = await freshDatabase();
      cleanups.push(other.drop);
      ok(deia(['init', '--store', other.url]), 'init');
      await fill(other.url);
      const r = deia(['--dir', dir, 'migrate', '--to', other.url, '--json']);
      expect(r.code, r.stderr).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('ENOTEMPTY');
      await withBackend(other.url, async (b) => {
        for (const log of ['bots', 'bot-messaging', 'performance']) for await (const _ of b.log(log).stream()) expect.fail(`${log} was written`);
      });
    }

    // A folder owing a task outcome (a `task done` that stopped before recording it) is refused
    // until a dispatch there records it: a store never owes one.
    fs.appendFileSync(path.join(dir, 'tasks.jsonl'), JSON.stringify({ event: 'done', task_id: recent, timestamp: now, bot_id: 'B1', duration_ms: 1000, tokens: null, attempt: 1, perf_from: null }) + '\n');
    const owed = await freshDatabase();
    cleanups.push(owed.drop);
    const refused = deia(['--dir', dir, 'migrate', '--to', owed.url, '--json'], { env: pinned });
    expect(refused.code, refused.stderr).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'EOWED', hint: expect.stringContaining('deia task dispatch') });
    // Refused while reading the folder, before the store was touched: not even the schema is there.
    expect(JSON.parse(deia(['--store', owed.url, 'doctor', '--json']).stdout)).toMatchObject({ exists: false, store: { schema_version: 0 } });
    run(now, ['task', 'dispatch']);
    ok(deia(['--dir', dir, 'migrate', '--to', owed.url], { env: pinned }), 'migrate once the outcome is recorded');
    const stats = (where: string[]) => JSON.parse(ok(deia([...where, 'stats', '--json'], { env: pinned, cwd: root }), 'stats').stdout);
    expect(stats(['--store', owed.url])).toEqual(stats(['--dir', dir]));
    expect(stats(['--dir', dir]).find((x: { bot_id: string }) => x.bot_id === 'B1')).toMatchObject({ samples: 2 });
  }, 240_000);
});

describe("the folder's upgrade: deia migrate --to file://… (the storage interface's layout)", () => {
  it('a folder copied into the new layout answers as the original through a plain --dir (its layout.json chooses), and copies on into a folder and a store', async () => {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    const env = { DEIA_NOW: new Date(Date.parse(now) + 30_000).toISOString() };
    const { root, dir, ids } = hiveWithTasksAndHealth(now);
    // Messaging state on the same hive: read, claimed, leased, pending.
    const run = (args: string[]) => ok(deia(['--dir', dir, ...args], { env }), args.join(' '));
    run(['send', 'B2', 'urgent', '--as', 'LEAD', '-p', 'P0']);
    run(['send', 'B2', 'later', '--as', 'LEAD', '-p', 'P3', '--key', 'k-1']);
    run(['send', 'NOBODY', 'waits', '--as', 'LEAD']);
    run(['inbox', '--as', 'B2', '--next']);
    const leased = JSON.parse(run(['inbox', 'B2', '--next', '--lease', '10m', '--as', 'W1', '--json']).stdout).message_id as string;
    for (const [bot, ok_] of [['B1', true], ['B2', false], ['B1', true]] as const) run(['record', bot, 'code', ok_ ? '--success' : '--failure', '--duration', '2s']);
    const before = snapshotTree(dir);
    const upgraded = path.join(root, 'upgraded', '.deia');
    const url = pathToFileURL(upgraded).href;

    const res = JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', url, '--json'], { env }), 'migrate to file://').stdout);
    expect(res).toMatchObject({ from: dir, to: url, direction: 'folder-to-interface', tasks: { tasks: 5, open: 3 }, health: { samples: 7 }, messaging: { pending: 1 }, not_copied: [] });
    expect(snapshotTree(dir)).toEqual(before); // the original is left as it was
    expect(fs.readdirSync(path.dirname(upgraded))).toEqual(['.deia']); // no temporary folder left beside it
    expect(JSON.parse(fs.readFileSync(path.join(upgraded, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(upgraded, 'mailboxes'))).toBe(false);
    expect(fs.readdirSync(path.join(upgraded, 'queues')).length).toBeGreaterThan(0);
    // Its settings came along (no machine measured, the hour-long backoff), without store.url.
    expect(JSON.parse(fs.readFileSync(path.join(upgraded, 'config.json'), 'utf8')).health.measure_system).toBe(false);

    const where: Record<string, string[]> = { folder: ['--dir', dir], upgraded: ['--dir', upgraded] };
    const on = (hive: string, args: string[]) => {
      const r = deia([...where[hive]!, ...args], { env });
      expect(r.code, `${hive}: ${args.join(' ')}: ${r.stderr}`).toBe(args[0] === 'health' && args.length === 2 ? 2 : 0);
      return r.stdout;
    };
    const same = (args: string[]) => {
      const [f, u] = ['folder', 'upgraded'].map((h) => JSON.parse(on(h, args)));
      expect(u, `upgraded: ${args.join(' ')}`).toEqual(f);
      return f;
    };
    const exports = (hive: string) => {
      const out = path.join(root, `export-${hive}-${fs.readdirSync(root).length}`);
      on(hive, ['export', '--out', out]);
      return ['bot-messaging.jsonl', 'adaptive-scheduling.jsonl', 'health-alerts.jsonl'].map((f) => fs.readFileSync(path.join(out, f), 'utf8'));
    };
    expect(exports('upgraded')).toEqual(exports('folder'));
    same(['status', '--json']);
    // Every command ran at one pinned instant: mail of one priority and time is compared as a set.
    const byId = (l: Array<{ message_id: string }>) => [...l].sort((a, b) => (a.message_id < b.message_id ? -1 : 1));
    for (const bot of ['LEAD', 'B1', 'B2', 'B3']) {
      const args = ['inbox', bot, '--all', '--json', '--as', bot];
      expect(byId(JSON.parse(on('upgraded', args))), `upgraded: ${args.join(' ')}`).toEqual(byId(JSON.parse(on('folder', args))));
    }
    same(['task', 'list', '--json']);
    for (const id of Object.values(ids)) same(['task', 'show', id, '--json']);
    same(['health', '--json']);
    same(['stats', '--json']);
    same(['recommend', 'code', '--json', '--seed', '3']);
    same(['bots', '--json']);
    // It is a working hive: the lease's holder acks there; a repeated --key stores nothing.
    on('upgraded', ['ack', leased, '--inbox', 'B2', '--as', 'W1']);
    expect(JSON.parse(on('upgraded', ['send', 'B2', 'later', '--as', 'LEAD', '-p', 'P3', '--key', 'k-1', '--json'])).message_id).toBe(JSON.parse(on('folder', ['send', 'B2', 'later', '--as', 'LEAD', '-p', 'P3', '--key', 'k-1', '--json'])).message_id);
    expect(fs.existsSync(path.join(upgraded, 'mailboxes'))).toBe(false); // nothing written the folder's way

    // From the new layout on: into a folder (and that folder answers as the upgraded one), into a store.
    const back = path.join(root, 'back', '.deia');
    // A folder path is a new folder in the same layout (as a new folder starts): a copy of the upgraded one.
    expect(JSON.parse(ok(deia(['--dir', upgraded, 'migrate', '--to', back, '--json'], { env }), 'file:// to folder').stdout)).toMatchObject({ from: url, to: back, direction: 'interface-to-interface' });
    expect(JSON.parse(fs.readFileSync(path.join(back, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(back, 'mailboxes'))).toBe(false);
    where.back = ['--dir', back];
    for (const args of [['task', 'list', '--json'], ['inbox', 'B2', '--all', '--json', '--as', 'B2'], ['health', '--json'], ['stats', '--json']]) {
      const norm = (v: unknown) => (args[0] === 'inbox' ? byId(v as Array<{ message_id: string }>) : v);
      expect(norm(JSON.parse(on('back', args))), `back: ${args.join(' ')}`).toEqual(norm(JSON.parse(on('upgraded', args))));
    }
    const db = await freshDatabase();
    cleanups.push(db.drop);
    expect(JSON.parse(ok(deia(['migrate', '--from', url, '--to', db.url, '--json'], { env }), 'file:// to postgres').stdout)).toMatchObject({ direction: 'interface-to-postgres' });
    where.postgres = ['--store', db.url];
    for (const args of [['task', 'list', '--json'], ['inbox', 'B2', '--all', '--json', '--as', 'B2'], ['stats', '--json']]) {
      const norm = (v: unknown) => (args[0] === 'inbox' ? byId(v as Array<{ message_id: string }>) : v);
      expect(norm(JSON.parse(on('postgres', args))), `postgres: ${args.join(' ')}`).toEqual(norm(JSON.parse(on('upgraded', args))));
    }
  }, 240_000);

  it('one folder is never written both ways: file:// refuses a folder-layout hive, a non-empty target is refused, a folder path as --to is written in the new layout', () => {
    const { root, dir } = hiveWithRouting();
    const before = snapshotTree(dir);
    const refused = (r: CliResult, code: number, re: RegExp) => {
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };
    const asStore = pathToFileURL(dir).href;
    refused(deia(['--store', asStore, 'status']), 1, /holds a hive in the folder layout \(\S+\), not the storage interface's \(.*deia migrate --dir/);
    refused(deia(['--store', asStore, 'send', 'B', 'hi', '--as', 'A']), 1, /holds a hive in the folder layout/);
    refused(deia(['--store', asStore, 'init']), 1, /holds a hive in the folder layout/);
    refused(deia(['--dir', dir, 'migrate', '--to', asStore]), 1, /already holds a hive/);
    // A folder path as --to: the same as file://, a new folder in the storage interface's layout (the 0.1 layout is never written).
    const other = path.join(root, 'other');
    expect(JSON.parse(ok(deia(['--dir', dir, 'migrate', '--to', other, '--json']), 'migrate to a folder path').stdout)).toMatchObject({ from: dir, to: other, direction: 'folder-to-interface' });
    expect(snapshotTree(dir)).toEqual(before);
    expect(JSON.parse(fs.readFileSync(path.join(other, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
    expect(fs.existsSync(path.join(other, 'mailboxes'))).toBe(false);
    const pinned = { DEIA_NOW: new Date().toISOString() };
    for (const args of [['status', '--json'], ['stats', '--json'], ['inbox', 'B', '--all', '--json', '--as', 'B']]) {
      const on = (d: string) => JSON.parse(ok(deia(['--dir', d, ...args], { env: pinned }), `${d}: ${args.join(' ')}`).stdout);
      expect(on(other), args.join(' ')).toEqual(on(dir));
    }
    refused(deia(['--dir', dir, 'migrate', '--to', other]), 1, /already holds a hive/); // and it is not written twice
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
  it('answers as before under the same --dir, keeps the old files beside it, and is a no-op the second time', () => {
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
    const env = { DEIA_NOW: new Date(Date.parse(now) + 30_000).toISOString() };
    const { root, dir, ids } = hiveWithTasksAndHealth(now);
    const on = (args: string[]) => deia(['--dir', dir, ...args], { env });
    const views = [['status', '--json'], ['task', 'list', '--json'], ['task', 'show', ids.started!, '--json'], ['health', '--json'], ['stats', '--json'], ['bots', '--json'], ['inbox', 'B3', '--all', '--json', '--as', 'B3']];
    views.forEach((v) => on(v)); // once first: the views that name a bot leave its presence where the second round finds it
    const before = views.map((v) => on(v));
    const old = snapshotTree(dir);

    const res = JSON.parse(ok(on(['migrate', '--upgrade', '--json']), 'upgrade').stdout);
    expect(res).toMatchObject({ dir, upgraded: true, kept_as: expect.stringContaining('.deia.folder-layout-'), tasks: { tasks: 5, open: 3 }, health: { samples: 7 } });
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false);
    expect(snapshotTree(res.kept_as)).toEqual(old); // the old files, as they were
    expect(fs.readdirSync(root).sort()).toEqual(['.deia', path.basename(res.kept_as)].sort()); // nothing else left beside it
    // Mail of one priority sent at one pinned instant is compared as a set (the order of a tie is not kept).
    const norm = (v: string[], out: string) => {
      const j = JSON.parse(out);
      return v[0] === 'inbox' ? [...j].sort((a: { message_id: string }, b: { message_id: string }) => (a.message_id < b.message_id ? -1 : 1)) : j;
    };
    views.forEach((v, i) => {
      const after = on(v);
      expect(after.code, v.join(' ')).toBe(before[i]!.code);
      expect(norm(v, after.stdout), v.join(' ')).toEqual(norm(v, before[i]!.stdout));
    });
    // It goes on working: B3 starts and finishes its assignment; a second upgrade does nothing.
    ok(on(['task', 'start', ids.assigned!, '--as', 'B3']), 'start');
    ok(on(['task', 'done', ids.assigned!, '--as', 'B3']), 'done');
    expect(JSON.parse(on(['task', 'show', ids.assigned!, '--json']).stdout)).toMatchObject({ status: 'done' });
    expect(JSON.parse(ok(on(['migrate', '--upgrade', '--json']), 'again').stdout)).toMatchObject({ upgraded: false, kept_as: null });
    expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false);
    // A new folder starts in that layout: nothing to upgrade there either, and nothing changed.
    const fresh = path.join(root, 'fresh', '.deia');
    ok(deia(['--dir', fresh, 'init']), 'init a new folder');
    const freshBefore = snapshotTree(fresh);
    expect(JSON.parse(ok(deia(['--dir', fresh, 'migrate', '--upgrade', '--json']), 'upgrade a new folder').stdout)).toMatchObject({ dir: fresh, upgraded: false, kept_as: null });
    expect(snapshotTree(fresh)).toEqual(freshBefore);
  }, 120_000);

  it('refuses while a bot holds a lock (nothing changed); a process still waiting on the old layout stops with a clear error, never hangs', async () => {
    const { root, dir } = hiveWithRouting();
    const before = snapshotTree(dir);
    // A live holder (this test process) of one of the hive's locks.
    const lock = path.join(dir, 'outbox.jsonl.lock');
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, 'owner'), JSON.stringify({ pid: process.pid, host: os.hostname(), ns: fs.readlinkSync('/proc/self/ns/pid'), token: 'x' }));
    const busy = deia(['--dir', dir, 'migrate', '--upgrade']);
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.stderr).toMatch(/^deia: \S+ is in use: outbox\.jsonl\.lock is held by process \d+; nothing was changed \(stop the bots/);
    fs.rmSync(lock, { recursive: true });
    expect(snapshotTree(dir)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['.deia']);
    const usage = deia(['--dir', dir, 'migrate', '--upgrade', '--to', path.join(root, 'x')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^deia: --upgrade changes the folder in place: give neither --to nor --from/);

    // Reached through a link: the folder itself is named (others may use it there), nothing changed.
    const link = path.join(root, 'linked');
    fs.symlinkSync(dir, link);
    const viaLink = deia(['--dir', link, 'migrate', '--upgrade']);
    expect(viaLink.code).toBe(2);
    expect(viaLink.stderr).toMatch(/is a link to \S+: upgrade the folder itself \(deia --dir \S+ migrate --upgrade\)/);
    fs.rmSync(link);
    expect(snapshotTree(dir)).toEqual(before);

    // A claimer waiting on the folder's own code when the folder is upgraded under it; the
    // folder keeps its permissions (a team's shared folder stays shared).
    fs.chmodSync(dir, 0o750);
    const waiter = deiaAsync(['--dir', dir, 'inbox', 'W9', '--next', '--wait', '60', '--as', 'W9', '--json']);
    const waitStarted = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    ok(deia(['--dir', dir, 'migrate', '--upgrade']), 'upgrade');
    ok(deia(['--dir', dir, 'send', 'W9', 'after the upgrade', '--as', 'A']), 'send');
    const w = await waiter;
    expect(Date.now() - waitStarted).toBeLessThan(30_000);
    expect(w.code, w.stderr).toBe(1);
    expect(JSON.parse(w.stdout).error).toMatchObject({ code: 'ELAYOUT', message: expect.stringContaining("was moved onto the storage interface's layout while this process was running") });
    expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false); // it wrote nothing the old way
    expect(fs.statSync(dir).mode & 0o777).toBe(0o750);
    expect(JSON.parse(ok(deia(['--dir', dir, 'inbox', 'W9', '--next', '--json', '--as', 'W9']), 'claim').stdout)).toMatchObject({ content: 'after the upgrade' });
  }, 120_000);
});
