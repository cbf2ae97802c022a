/**
 * deia cleanup rotates the audit logs of a new folder (the storage interface's layout, run by the
 * file backend) as it does a 0.1 folder's, through real CLI processes: past
 * `cleanup.log_max_bytes` `<log>.jsonl` → `<log>.1.jsonl` …, keeping `cleanup.log_generations`;
 * `--dry-run` moves nothing; every whole-log reader still sees the kept generations, oldest
 * first: export, doctor's audit cross-check, migrate (into a folder and into PostgreSQL), health.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, readJsonl, snapshotTree, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { withBackend } from './helpers/logs.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function ok(r: CliResult, what: string): CliResult {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  return r;
}

/** A new folder (layout.json: the storage interface's layout) rotating past 1 KiB, keeping 2 generations. */
function newFolder(): { root: string; dir: string; run: (args: string[], env?: Record<string, string>) => CliResult } {
  const { root, dir } = tempHive('deia-rotate-');
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  ok(deia(['init', '--dir', dir]), 'init');
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.cleanup = { ...cfg.cleanup, log_max_bytes: 1024, log_generations: 2 };
  cfg.health = { ...cfg.health, measure_system: false };
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  return { root, dir, run: (args, env = {}) => deia(['--dir', dir, ...args], { env }) };
}

const text = (dir: string, f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '');

/** Send mail to B until bot-messaging.jsonl is past 1 KiB; the ids sent. */
function fillMessaging(h: ReturnType<typeof newFolder>, tag: string): string[] {
  const sent: string[] = [];
  while ((fs.statSync(path.join(h.dir, 'bot-messaging.jsonl'), { throwIfNoEntry: false })?.size ?? 0) <= 1024) {
    sent.push(ok(h.run(['send', 'B', `${tag} m${sent.length}`, '--as', 'A']), 'send').stdout.trim());
  }
  return sent;
}

describe('deia cleanup on a folder in the storage interface\'s layout', () => {
  it('rotates the audit logs past log_max_bytes, drops beyond log_generations, says which in --json; --dry-run moves nothing', () => {
    const h = newFolder();
    ok(h.run(['register', 'B']), 'register');
    const rounds: string[] = []; // the live log's text as each rotation moved it
    for (let round = 0; round < 3; round++) {
      fillMessaging(h, `r${round}`);
      const live = text(h.dir, 'bot-messaging.jsonl');
      const size = fs.statSync(path.join(h.dir, 'bot-messaging.jsonl')).size;

      // --dry-run: the same report, nothing moved (not even a lock or the layout marker touched).
      const before = snapshotTree(h.dir);
      const dry = JSON.parse(ok(h.run(['cleanup', '--dry-run', '--json']), 'dry run').stdout);
      expect(dry).toMatchObject({ dry_run: true, changed: true });
      expect(dry.rotated).toEqual([{ log: 'bot-messaging.jsonl', bytes: size, to: 'bot-messaging.1.jsonl', dropped: round >= 2 ? 'bot-messaging.2.jsonl' : null }]);
      expect(snapshotTree(h.dir)).toEqual(before);

      const res = JSON.parse(ok(h.run(['cleanup', '--json']), 'cleanup').stdout);
      expect(res.rotated).toEqual([{ log: 'bot-messaging.jsonl', bytes: size, to: 'bot-messaging.1.jsonl', dropped: round >= 2 ? 'bot-messaging.2.jsonl' : null }]);
      expect(res.changed).toBe(true);
      expect(res.errors).toEqual([]);
      rounds.push(live);
      expect(text(h.dir, 'bot-messaging.1.jsonl')).toBe(live);
      // The new live log starts with this cleanup's own line.
      const now = readJsonl(path.join(h.dir, 'bot-messaging.jsonl'));
      expect(now).toHaveLength(1);
      expect(now[0]).toMatchObject({ event: 'cleanup_completed', details: { rotated: res.rotated } });
    }
    expect(text(h.dir, 'bot-messaging.2.jsonl')).toBe(rounds[1]);
    expect(fs.existsSync(path.join(h.dir, 'bot-messaging.3.jsonl'))).toBe(false);
    // A run right after has nothing to rotate.
    const again = JSON.parse(ok(h.run(['cleanup', '--json']), 'cleanup again').stdout);
    expect(again).toMatchObject({ rotated: [], changed: false });
  }, 120_000);

  it('export gives every kept line in order; doctor finds the deliveries of the rotated generations in the inboxes', () => {
    const h = newFolder();
    ok(h.run(['register', 'B']), 'register');
    const sent: string[][] = [];
    for (let round = 0; round < 3; round++) {
      sent.push(fillMessaging(h, `r${round}`));
      expect(JSON.parse(ok(h.run(['cleanup', '--json']), 'cleanup').stdout).rotated).toHaveLength(1);
    }
    sent.push(fillMessaging(h, 'r3')); // the live log, past the size again: export reads it as it is
    const expected = ['bot-messaging.2.jsonl', 'bot-messaging.1.jsonl', 'bot-messaging.jsonl'].map((f) => text(h.dir, f)).join('');
    const rotatedLines = readJsonl(path.join(h.dir, 'bot-messaging.2.jsonl')).length + readJsonl(path.join(h.dir, 'bot-messaging.1.jsonl')).length;

    const out = path.join(h.root, 'out');
    const res = JSON.parse(ok(h.run(['export', '--out', out, '--json']), 'export').stdout);
    expect(fs.readFileSync(path.join(out, 'bot-messaging.jsonl'), 'utf8')).toBe(expected);
    expect(res.logs[0]).toMatchObject({ log: 'bot-messaging', archived_lines: rotatedLines, lines: expected.split('\n').filter(Boolean).length });
    // Round 0 went with the dropped generation; rounds 1 and 2 and the live log are kept, in the order sent.
    const queued = readJsonl(path.join(out, 'bot-messaging.jsonl')).filter((l) => l.event === 'message_queued').map((l) => l.message_id);
    expect(queued).toEqual([...sent[1]!, ...sent[2]!, ...sent[3]!]);

    // Every message is still in B's inbox (none read). The deliveries logged in the kept
    // generations are found; only round 0's, dropped with the oldest generation, are not logged.
    const doc = h.run(['doctor', '--json']);
    const d = JSON.parse(doc.stdout);
    expect(d.problems).toEqual([]);
    expect(doc.code, doc.stdout).toBe(0);
    const all = sent.flat().length;
    expect(d.audit).toMatchObject({ in_mailboxes: all, delivered_events: all - sent[0]!.length, missing: 0, unlogged: sent[0]!.length });
  }, 120_000);

  it('migrate into another folder and into PostgreSQL copies the kept generations\' lines, in order', async () => {
    const h = newFolder();
    ok(h.run(['register', 'B']), 'register');
    for (let round = 0; round < 3; round++) {
      fillMessaging(h, `r${round}`);
      expect(JSON.parse(ok(h.run(['cleanup', '--json']), 'cleanup').stdout).rotated).toHaveLength(1);
    }
    ok(h.run(['send', 'B', 'live one', '--as', 'A']), 'send');
    const kept = ['bot-messaging.2.jsonl', 'bot-messaging.1.jsonl', 'bot-messaging.jsonl'].flatMap((f) => readJsonl(path.join(h.dir, f)));
    expect(kept.length).toBeGreaterThan(readJsonl(path.join(h.dir, 'bot-messaging.jsonl')).length);

    const exported = (args: string[], name: string) => {
      const out = path.join(h.root, name);
      ok(deia([...args, 'export', '--out', out, '--json']), `export ${name}`);
      return readJsonl(path.join(out, 'bot-messaging.jsonl'));
    };
    const folder = path.join(h.root, 'copy', '.deia');
    ok(h.run(['migrate', '--to', folder, '--json']), 'migrate to a folder');
    expect(exported(['--dir', folder], 'out-folder')).toEqual(kept);

    const db = await freshDatabase();
    cleanups.push(db.drop);
    ok(h.run(['migrate', '--to', db.url, '--json']), 'migrate to postgres');
    expect(exported(['--store', db.url], 'out-pg')).toEqual(kept);
  }, 120_000);

  it('a health-alerts rotation keeps `health` answering, with no alert written twice', () => {
    const h = newFolder();
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (s: number) => ({ DEIA_NOW: new Date(t0 + s * 1000).toISOString() });
    let s = 0;
    // Critical, recovered, critical …: one alert line a change, until the log is past 1 KiB.
    for (let i = 0; (fs.statSync(path.join(h.dir, 'health-alerts.jsonl'), { throwIfNoEntry: false })?.size ?? 0) <= 1024; i++) {
      ok(h.run(['health', 'record', 'cpu', i % 2 ? '50' : '95', '--bot', 'B'], at(s++)), 'record');
      h.run(['health', '--json'], at(s++));
    }
    const alerts = readJsonl(path.join(h.dir, 'health-alerts.jsonl'));
    const before = h.run(['health', '--json'], at(s++));
    expect(JSON.parse(before.stdout).level).toMatch(/^(HEALTHY|CRITICAL)$/);
    const res = JSON.parse(ok(h.run(['cleanup', '--json'], at(s++)), 'cleanup').stdout);
    expect(res.rotated.map((r: { log: string }) => r.log)).toContain('health-alerts.jsonl');
    expect(fs.existsSync(path.join(h.dir, 'health-alerts.jsonl'))).toBe(false);

    // The same levels: the same answer, and nothing new to log (the levels are a document, not the log).
    for (let i = 0; i < 3; i++) {
      const after = h.run(['health', '--json'], at(s++));
      expect(after.code).toBe(before.code);
      expect(JSON.parse(after.stdout).level).toBe(JSON.parse(before.stdout).level);
    }
    expect(fs.existsSync(path.join(h.dir, 'health-alerts.jsonl'))).toBe(false);
    // A change after the rotation is logged once, in the new live log.
    ok(h.run(['health', 'record', 'cpu', alerts.length % 2 ? '50' : '95', '--bot', 'B'], at(s++)), 'record');
    h.run(['health', '--json'], at(s++));
    h.run(['health', '--json'], at(s++));
    const fresh = readJsonl(path.join(h.dir, 'health-alerts.jsonl'));
    expect(fresh).toHaveLength(1);

    const out = path.join(h.root, 'out');
    ok(h.run(['export', '--out', out, '--json']), 'export');
    expect(readJsonl(path.join(out, 'health-alerts.jsonl'))).toEqual([...alerts, ...fresh]);
  }, 120_000);

  it('a cursor reader (the live dashboard\'s traffic) goes on across a rotation: nothing lost, nothing read twice', async () => {
    const h = newFolder();
    ok(h.run(['register', 'B']), 'register');
    ok(h.run(['send', 'B', 'first', '--as', 'A']), 'send');
    const first = await withBackend(h.dir, (b) => b.log('bot-messaging').readSince());
    const seen = [...first.records];
    // Lines appended after the reader's last read, then rotated away before its next one.
    const between = fillMessaging(h, 'between');
    expect(JSON.parse(ok(h.run(['cleanup', '--json']), 'cleanup').stdout).rotated).toHaveLength(1);
    const after = ok(h.run(['send', 'B', 'after', '--as', 'A']), 'send').stdout.trim();
    const next = await withBackend(h.dir, (b) => b.log('bot-messaging').readSince(first.cursor));
    expect(next.reset).toBe(false);
    seen.push(...next.records);
    const whole = ['bot-messaging.1.jsonl', 'bot-messaging.jsonl'].flatMap((f) => readJsonl(path.join(h.dir, f)));
    expect(seen).toEqual(whole);
    expect(seen.filter((r) => r.event === 'message_queued').map((r) => r.message_id)).toEqual([expect.any(String), ...between, after]);
    // And on from there: only what comes next.
    const last = await withBackend(h.dir, (b) => b.log('bot-messaging').readSince(next.cursor));
    expect(last).toMatchObject({ records: [], reset: false });
  }, 120_000);
});
