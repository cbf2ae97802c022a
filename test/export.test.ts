/**
 * `deia export`: the three audit logs as JSONL files from either backend. The same messaging
 * done on a hive folder and on a PostgreSQL store must export bot-messaging lines with the same
 * field sets and the same event sequence; rotated generations come first, oldest first;
 * existing files (and links) are never overwritten without --force; the password never shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, readJsonl, snapshotTree, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

const LOGS = ['bot-messaging', 'adaptive-scheduling', 'health-alerts'];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function scratch(): string {
  const { root } = tempHive('deia-export-');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

function ok(r: CliResult, what: string): CliResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** One sequence of sends, reads, claims and deliveries that both backends run. */
function messagingScenario(run: (args: string[]) => CliResult): void {
  ok(run(['inbox', '--as', 'B']), 'B looks at its inbox');
  ok(run(['send', 'B', 'one', '--as', 'A', '-p', 'P1']), 'send one');
  const two = JSON.parse(ok(run(['send', 'B', 'two', '--as', 'A', '--json']), 'send two').stdout).message_id as string;
  ok(run(['send', 'LATE', 'wait for me', '--as', 'A']), 'send to a bot without an inbox');
  ok(run(['inbox', '--as', 'LATE', '--json']), 'LATE gets its inbox');
  expect(JSON.parse(ok(run(['inbox', '--as', 'B', '--next', '--json']), 'claim').stdout).content).toBe('one');
  ok(run(['read', two, '--as', 'B']), 'read two');
  const three = JSON.parse(ok(run(['send', 'B', 'three', '--as', 'A', '--json']), 'send three').stdout).message_id as string;
  ok(run(['inbox', 'B', '--next', '--lease', '30s', '--as', 'W1']), 'lease');
  ok(run(['ack', three, '--inbox', 'B', '--as', 'W1']), 'ack');
  ok(run(['deliver']), 'deliver');
}

/** What must agree between backends: each line's keys, event and fields, with ids by first appearance. */
function shape(lines: Array<Record<string, any>>): unknown[] {
  const ids = new Map<string, number>();
  return lines.map((l) => {
    if (typeof l.message_id === 'string' && !ids.has(l.message_id)) ids.set(l.message_id, ids.size);
    return {
      keys: Object.keys(l),
      event: l.event,
      message: l.message_id === null ? null : ids.get(l.message_id),
      from_bot: l.from_bot,
      to_bot: l.to_bot,
      priority: l.priority,
      status: l.status,
      details: l.details === null ? null : Object.keys(l.details),
    };
  });
}

describe('deia export', () => {
  it('the same messaging on a folder and on PostgreSQL exports bot-messaging with the same fields and event sequence', async () => {
    const root = scratch();
    const dir = path.join(root, '.deia');
    ok(deia(['init', '--dir', dir]), 'init folder');
    messagingScenario((args) => deia(['--dir', dir, ...args]));

    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(deia(['init', '--store', db.url]), 'init postgres');
    messagingScenario((args) => deia(['--store', db.url, ...args]));

    const fromFolder = path.join(root, 'folder-export');
    const fromPg = path.join(root, 'pg-export');
    const f = JSON.parse(ok(deia(['--dir', dir, 'export', '--out', fromFolder, '--json']), 'export folder').stdout);
    const p = JSON.parse(ok(deia(['--store', db.url, 'export', '--out', fromPg, '--json']), 'export postgres').stdout);

    // The folder's export is its live log, byte for byte.
    expect(fs.readFileSync(path.join(fromFolder, 'bot-messaging.jsonl'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'bot-messaging.jsonl'), 'utf8'));
    const folderLines = readJsonl(path.join(fromFolder, 'bot-messaging.jsonl'));
    const pgLines = readJsonl(path.join(fromPg, 'bot-messaging.jsonl'));
    expect(folderLines.map((l) => l.event)).toEqual([
      'message_queued', 'message_delivered', // one
      'message_queued', 'message_delivered', // two
      'message_queued', 'message_retry', 'message_delivered', // to LATE, delivered when it looked
      'message_read', 'message_read', // one claimed, two read
      'message_queued', 'message_delivered', 'message_claimed', 'message_acked', // three
    ]);
    expect(shape(pgLines)).toEqual(shape(folderLines));

    for (const [res, out, backend] of [[f, fromFolder, 'file'], [p, fromPg, 'postgres']] as const) {
      expect(res).toMatchObject({ backend, out, lines: folderLines.length });
      expect(res.logs.map((l: { log: string }) => l.log)).toEqual(LOGS);
      expect(res.logs[0]).toMatchObject({ lines: folderLines.length, archived_lines: 0, file: path.join(out, 'bot-messaging.jsonl') });
      expect(res.logs[0].bytes).toBe(fs.statSync(path.join(out, 'bot-messaging.jsonl')).size);
      // Nothing here records outcomes or health samples: those logs are there, and empty.
      for (const log of LOGS.slice(1)) expect(fs.readFileSync(path.join(out, `${log}.jsonl`), 'utf8')).toBe('');
      expect(fs.readdirSync(out).sort()).toEqual(LOGS.map((l) => `${l}.jsonl`).sort()); // no temp file left
    }
  }, 120_000);

  it('on a new hive (the storage interface\'s layout) cleanup rotates the audit log past log_max_bytes, and export still has every line once, in order', () => {
    const root = scratch();
    const dir = path.join(root, '.deia');
    ok(deia(['init', '--dir', dir]), 'init');
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.cleanup.log_max_bytes = 1024;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    ok(deia(['--dir', dir, 'register', 'B']), 'register');
    const sent: string[] = [];
    const rotated: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) sent.push(ok(deia(['--dir', dir, 'send', 'B', `r${round} m${i}`, '--as', 'A']), 'send').stdout.trim());
      for (const r of JSON.parse(ok(deia(['--dir', dir, 'cleanup', '--json']), 'cleanup').stdout).rotated) rotated.push(r.log);
    }
    expect(rotated).toContain('bot-messaging.jsonl');
    const generations = fs.readdirSync(dir).filter((f) => /^bot-messaging\.\d+\.jsonl$/.test(f));
    expect(generations.length).toBeGreaterThan(0);
    // Oldest (highest N) first, then the live log: what export must give back.
    const kept = [...generations.sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1])), 'bot-messaging.jsonl'].flatMap((f) => readJsonl(path.join(dir, f)));
    const out = path.join(root, 'out');
    const res = JSON.parse(ok(deia(['--dir', dir, 'export', '--out', out, '--json']), 'export').stdout);
    const lines = readJsonl(path.join(out, 'bot-messaging.jsonl'));
    const rotatedLines = generations.flatMap((f) => readJsonl(path.join(dir, f))).length;
    expect(res.logs[0]).toMatchObject({ log: 'bot-messaging', lines: lines.length, archived_lines: rotatedLines });
    expect(lines).toEqual(kept);
    expect(lines.filter((l) => l.event === 'message_queued').map((l) => l.message_id)).toEqual(sent);
    const times = lines.map((l) => l.timestamp);
    expect(times).toEqual([...times].sort());
  }, 60_000);

  it('refuses to overwrite existing files or links without --force, and writes none of the three', () => {
    const root = scratch();
    const dir = path.join(root, '.deia');
    ok(deia(['--dir', dir, 'send', 'B', 'hello', '--as', 'A']), 'send');
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'health-alerts.jsonl'), 'keep me\n');
    const victim = path.join(root, 'victim.txt');
    fs.writeFileSync(victim, 'not yours\n');
    fs.symlinkSync(victim, path.join(out, 'bot-messaging.jsonl'));
    const before = snapshotTree(out);

    for (const args of [['export', '--out', out], ['export', '--out', out, '--json']]) {
      const r = deia(['--dir', dir, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^deia: refusing to overwrite .*bot-messaging\.jsonl, .*health-alerts\.jsonl \(pass --force/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      if (args.includes('--json')) expect(JSON.parse(r.stdout).error.code).toBe('EEXIST');
      expect(snapshotTree(out)).toEqual(before);
      expect(fs.lstatSync(path.join(out, 'bot-messaging.jsonl')).isSymbolicLink()).toBe(true);
    }

    // --force replaces the names: the link itself, never the file it points to.
    ok(deia(['--dir', dir, 'export', '--out', out, '--force']), 'export --force');
    expect(fs.readFileSync(victim, 'utf8')).toBe('not yours\n');
    expect(fs.lstatSync(path.join(out, 'bot-messaging.jsonl')).isFile()).toBe(true);
    expect(readJsonl(path.join(out, 'bot-messaging.jsonl')).map((l) => l.event)).toEqual(['message_queued', 'message_retry']);
    expect(fs.readFileSync(path.join(out, 'health-alerts.jsonl'), 'utf8')).toBe('');

    // Nor into the hive folder itself, whose logs have the same names.
    const into = deia(['--dir', dir, 'export', '--out', dir, '--force']);
    expect(into.code).toBe(2);
    expect(into.stderr).toMatch(/^deia: refusing to export into the hive folder/);
    expect(readJsonl(path.join(dir, 'bot-messaging.jsonl'))).toHaveLength(2);
  });

  it('a missing hive is ENOHIVE, exit 1, and nothing is written', () => {
    const root = scratch();
    const out = path.join(root, 'out');
    const r = deia(['--dir', path.join(root, 'nowhere'), 'export', '--out', out, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('ENOHIVE');
    expect(r.stderr).toMatch(/^deia: hive not found at .*nowhere/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(path.join(root, 'nowhere'))).toBe(false);
  });

  it('on PostgreSQL the password appears nowhere, in success or failure, and a database without the schema writes nothing', async () => {
    const db = await freshDatabase();
    cleanups.push(db.drop);
    const secret = decodeURIComponent(new URL(db.url).password);
    expect(secret.length).toBeGreaterThan(3);
    const root = scratch();
    const out = path.join(root, 'out');

    const bare = deia(['--store', db.url, 'export', '--out', out]);
    expect(bare.code).toBe(1);
    expect(bare.stderr.trim().split('\n')).toHaveLength(1);
    expect(bare.stdout + bare.stderr).not.toContain(secret);
    expect(fs.existsSync(out)).toBe(false);

    ok(deia(['init', '--store', db.url]), 'init');
    ok(deia(['--store', db.url, 'inbox', '--as', 'B']), 'inbox');
    ok(deia(['--store', db.url, 'send', 'B', 'hi', '--as', 'A']), 'send');
    const human = ok(deia(['--store', db.url, 'export', '--out', out]), 'export');
    expect(human.stdout).toMatch(/exported 2 line\(s\) from postgres:\/\/[^:]+:\*\*\*@/);
    const again = deia(['--store', db.url, 'export', '--out', out, '--json']);
    expect(again.code).toBe(1);
    const json = ok(deia(['export', '--out', out, '--force', '--json'], { env: { DEIA_STORE: db.url } }), 'export via DEIA_STORE');
    expect(JSON.parse(json.stdout).store).toMatch(/:\*\*\*@/);
    for (const r of [human, again, json]) expect(r.stdout + r.stderr).not.toContain(secret);
    for (const log of LOGS) expect(fs.readFileSync(path.join(out, `${log}.jsonl`), 'utf8')).not.toContain(secret);
  }, 60_000);
});
