/**
 * `deia migrate --to postgres://…`: a hive folder's messaging copied into an empty PostgreSQL
 * store answers `status --json`, `inbox BOT --all --json`, `conversation` and `export` as the
 * folder does; claims and leases carry over (the holder can still ack); a store that already
 * holds a hive is refused and left as it was; the folder is not changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, snapshotTree, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

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
    expect(res).toMatchObject({ from: dir, to: expect.stringMatching(/:\*\*\*@/), bots: 3, inbox_messages: 7, pending: 1, failed_or_expired: 1 });
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

  it('refuses a store that already holds a hive, and leaves it as it was; bad --to is a usage error', async () => {
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

    for (const bad of [['migrate'], ['migrate', '--to', path.join(root, 'elsewhere')]]) {
      const u = deia(['--dir', dir, ...bad]);
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr).toMatch(/^deia: (migrate needs --to|--to must be a postgres)/);
    }
    expect(fs.existsSync(path.join(root, 'elsewhere'))).toBe(false);
  }, 120_000);
});
