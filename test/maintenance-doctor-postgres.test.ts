/**
 * deia doctor on a PostgreSQL store, through real CLI processes: a clean hive is clean (exit 0);
 * problems planted with SQL are reported with the folder's --json keys; --repair runs only
 * cleanup's delivery step (overdue mail) and leaves the rest, saying so; an unreachable server
 * is one line without the password; a schema that is old, missing or newer is reported and never
 * migrated. Needs the test PostgreSQL server (fails without it, never skips).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { folderDoctorReport, type DoctorProblem } from './helpers/doctor.js';

const HOUR = 3_600_000;
const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number): Record<string, string> => ({ DEIA_NOW: String(t0 + ms) });

type Problem = DoctorProblem;

/** The keys of a folder's doctor --json, from a real run on a new folder (the storage interface's layout, the default). */
function folderDoctorKeys(): string[] {
  const current = folderDoctorReport();
  expect(current.store).toEqual({ kind: 'interface', schema_version: null, schema_expected: null, not_applicable: [] });
  return Object.keys(current).sort();
}

describe('deia doctor on PostgreSQL', () => {
  let db: { url: string; drop: () => Promise<void> };
  let cwd: string;
  const sql = async (text: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows;
    } finally {
      await c.end();
    }
  };
  const run = (args: string[], env: Record<string, string> = {}) => deia(['--store', db.url, ...args], { cwd, env } as CliOptions);
  const doctor = (ms: number, extra: string[] = []) => {
    const r = run(['doctor', '--json', ...extra], at(ms));
    return { code: r.code, stderr: r.stderr, res: JSON.parse(r.stdout) };
  };
  const ok = (args: string[], ms: number) => {
    const r = run([...args, '--json'], at(ms));
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout);
  };

  beforeEach(async () => {
    db = await freshDatabase();
    // An empty folder to run in: no .deia/ around is read, and the test can see nothing is written there.
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-doc-pg-'));
  });
  afterEach(async () => {
    await db.drop();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('a clean hive is clean (exit 0), with the folder doctor\'s --json keys; nothing is written into a folder', async () => {
    expect(run(['init']).code).toBe(0);
    ok(['send', 'B', 'hello', '--as', 'A'], 0);
    ok(['inbox', '--as', 'B'], 1000);
    ok(['send', 'B', 'again', '--as', 'A', '-p', 'P1'], 2000);
    ok(['inbox', '--next', '--as', 'B', '--lease', '1m'], 3000);
    ok(['record', 'B', 'code', '--success', '--as', 'B'], 4000);

    const { code, stderr, res } = doctor(5000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Object.keys(res).sort()).toEqual(folderDoctorKeys());
    expect(res).toMatchObject({
      dir: expect.stringMatching(/^postgres:\/\//),
      exists: true,
      repair: false,
      ok: true,
      files_checked: 0,
      problems: [],
      held_locks: [],
      repaired: 0,
      store: { kind: 'postgres', schema_version: 1, schema_expected: 1 },
      audit: { mailboxes: 2, in_mailboxes: 2, archived: 0, delivered_events: 2, missing: 0, unlogged: 0 },
    });
    expect(res.records_checked).toBeGreaterThan(5);
    // The folder-only checks are named as not applicable, not reported as passed.
    expect(res.store.not_applicable).toEqual(expect.arrayContaining(['torn lines', 'stale locks', 'symbolic links']));
    expect(res.dir).not.toContain(new URL(db.url).password);

    const human = run(['doctor'], at(5000));
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok: \d+ record\(s\) checked \(queue items, documents, log lines\); 2 inbox\(es\) agree with the audit log on 2 of 2 deliveries, no problems$/m);
    expect(human.stdout).toMatch(/not applicable there: torn lines, stale locks/);
    expect(human.stdout).not.toContain(new URL(db.url).password);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('reports planted problems with the same keys: bad payloads, lapsed leases, overdue mail, bad documents, corrupt log lines, a lost delivery', async () => {
    expect(run(['init']).code).toBe(0);
    ok(['inbox', '--as', 'B'], 0);
    const kept = ok(['send', 'B', 'claimed and forgotten', '--as', 'A', '-p', 'P1'], 0).message_id as string;
    const lost = ok(['send', 'B', 'will vanish', '--as', 'A'], 0).message_id as string;
    const overdue = ok(['send', 'C', 'nobody home', '--as', 'A', '--ttl', '60'], 0).message_id as string; // C never looks
    expect(ok(['inbox', '--next', '--as', 'B', '--lease', '1m'], 1000).message_id).toBe(kept);
    // Damage, below the interface.
    await sql("INSERT INTO deia_queue_items (queue, id, priority, created_at, payload) VALUES ('inbox.B', 'bad-1', 2, 0, '{not json'), ('inbox.B', 'bad-2', 2, 0, '{\"hello\":1}')");
    await sql("INSERT INTO deia_docs (key, version, value) VALUES ('bot.Z', 1, '{\"bot_id\":\"Y\",\"timestamp\":\"2030-01-01T00:00:00Z\"}'), ('presence.X', 1, 'nope')");
    await sql("INSERT INTO deia_logs (log, seq, at, line) VALUES ('bot-messaging', 99999, NULL, '{\"event\":\"message_del')");
    await sql("DELETE FROM deia_queue_items WHERE queue = 'inbox.B' AND id = $1", [lost]);
    const rowsBefore = await sql('SELECT queue, id, state, payload FROM deia_queue_items ORDER BY queue, id');
    const docsBefore = await sql('SELECT key, version, value FROM deia_docs ORDER BY key');

    const { code, res } = doctor(2 * HOUR);
    expect(code).toBe(1);
    expect(Object.keys(res).sort()).toEqual(folderDoctorKeys());
    expect(res.ok).toBe(false);
    const problems = res.problems as Problem[];
    for (const p of problems) {
      expect(Object.keys(p).every((k) => ['kind', 'path', 'line', 'age_ms', 'detail', 'repaired', 'action'].includes(k))).toBe(true);
      expect(p.repaired).toBe(false);
      expect(typeof p.detail).toBe('string');
    }
    const find = (kind: string, text: string) => problems.find((p) => p.kind === kind && p.detail.includes(text));
    expect(find('bad_payload', 'bad-1')).toMatchObject({ path: 'queue inbox.B', detail: expect.stringMatching(/payload does not parse/) });
    expect(find('bad_payload', 'bad-2')).toMatchObject({ path: 'queue inbox.B', detail: expect.stringMatching(/not a valid message/) });
    expect(find('lapsed_lease', kept)).toMatchObject({ path: 'queue inbox.B', action: expect.stringContaining('deia inbox --next --as B') });
    expect(find('overdue_mail', overdue)).toMatchObject({ path: 'document outbox', detail: expect.stringMatching(/to C: expired .* ago \(TTL\) .*`deia cleanup` is not running/) });
    expect(find('bad_document', 'bot_id')).toMatchObject({ path: 'document bot.Z' });
    expect(find('bad_document', 'does not parse')).toMatchObject({ path: 'document presence.X' });
    expect(find('corrupt_line', 'does not parse')).toMatchObject({ path: 'log bot-messaging', line: 99999 });
    expect(find('audit_mismatch', lost)).toMatchObject({ path: 'queue inbox.B' });
    expect(problems).toHaveLength(8);
    expect(res.audit).toMatchObject({ missing: 1 });

    // Without --repair nothing changed (the same report again, the same rows).
    expect(doctor(2 * HOUR).res.problems).toEqual(problems);
    expect(await sql('SELECT queue, id, state, payload FROM deia_queue_items ORDER BY queue, id')).toEqual(rowsBefore);
    expect(await sql('SELECT key, version, value FROM deia_docs ORDER BY key')).toEqual(docsBefore);

    const human = run(['doctor'], at(2 * HOUR));
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^overdue_mail\s+document outbox\s+message/m);
    expect(human.stdout).toMatch(/^corrupt_line\s+log bot-messaging:99999\s/m);
    expect(human.stdout).toMatch(/^8 problem\(s\) found; .*\(run `deia doctor --repair`\)$/m);
    expect(human.stdout).toMatch(/^problem\s+where\s+detail\s+what to do$/m);

    // --repair: overdue mail goes through cleanup's delivery step (expired, as cleanup would); the rest is left, with why.
    const rep = doctor(2 * HOUR, ['--repair']);
    expect(rep.code).toBe(1);
    expect(rep.res).toMatchObject({ repair: true, ok: false, repaired: 1 });
    const rp = rep.res.problems as Problem[];
    expect(rp.find((p) => p.kind === 'overdue_mail')).toMatchObject({ repaired: true, action: expect.stringMatching(/cleanup's delivery step \(.*1 expired\)/) });
    for (const p of rp.filter((x) => x.kind !== 'overdue_mail')) {
      expect(p.repaired).toBe(false);
      expect(p.action).toMatch(/not changed by doctor|claimable again|resend/);
    }
    // (`deia status` itself fails while inbox.B holds a payload that does not parse: doctor says so.)
    expect(run(['status'], at(2 * HOUR)).code).toBe(1);
    const dead = await sql("SELECT payload FROM deia_queue_items WHERE queue = 'dead.C'");
    expect(dead.map((r) => JSON.parse(r.payload)).map((m) => [m.message_id, m.status])).toEqual([[overdue, 'expired']]);
    const after = doctor(2 * HOUR);
    expect((after.res.problems as Problem[]).map((p) => p.kind).sort()).toEqual(['audit_mismatch', 'bad_document', 'bad_document', 'bad_payload', 'bad_payload', 'corrupt_line', 'lapsed_lease']);
    // The expiry was logged as cleanup logs it.
    const lines = (await sql("SELECT line FROM deia_logs WHERE log = 'bot-messaging' AND seq < 99999 ORDER BY seq")).map((r) => JSON.parse(r.line));
    expect(lines.filter((l) => l.event === 'message_expired').map((l) => l.message_id)).toEqual([overdue]);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  // The folder holding config.json is a new folder (the storage interface's layout, doctor kind 'interface').
  it('store.url in config.json chooses PostgreSQL for doctor too; a config.json that does not parse is reported from the folder', () => {
    const kind = 'interface';
    expect(run(['init']).code).toBe(0);
    const h = tempHive();
    try {
      expect(deia(['init'], { dir: h.dir }).code).toBe(0);
      expect(fs.existsSync(path.join(h.dir, 'layout.json'))).toBe(true);
      const file = path.join(h.dir, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
      cfg.store = { ...cfg.store, url: db.url };
      fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
      const r = deia(['doctor', '--json'], { dir: h.dir });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, exists: true, store: { kind: 'postgres', schema_version: 1 }, dir: expect.stringMatching(/^postgres:\/\//) });
      fs.writeFileSync(file, '{"store": ');
      const broken = deia(['doctor', '--json'], { dir: h.dir });
      expect(broken.code).toBe(1);
      expect(JSON.parse(broken.stdout)).toMatchObject({ dir: h.dir, store: { kind }, problems: [expect.objectContaining({ kind: 'config', path: 'config.json' })] });
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });

  it('an unreachable server is one line naming it without the password (exit 1)', () => {
    const human = deia(['doctor', '--store', 'postgres://deia:s3cr3t-pw@127.0.0.1:1/hive'], { cwd, env: { DEIA_PG_RECONNECT_MS: '0' } });
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr.trim().split('\n')).toHaveLength(1);
    expect(human.stderr).toMatch(/^deia: cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@127\.0\.0\.1:1\/hive: .*\(is the server running/);
    expect(human.stderr).not.toContain('s3cr3t-pw');
    // --json: the error document every command gives, with the same code.
    const r = deia(['doctor', '--json', '--store', 'postgres://deia:s3cr3t-pw@127.0.0.1:1/hive'], { cwd, env: { DEIA_PG_RECONNECT_MS: '0' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ESTOREUNREACHABLE', message: expect.stringMatching(/^cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@/) });
    expect(r.stdout + r.stderr).not.toContain('s3cr3t-pw');
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('a schema that is missing, behind or ahead is reported (exit 1) and never migrated by doctor', async () => {
    // No schema at all.
    let d = doctor(0);
    expect(d.code).toBe(1);
    expect(d.res).toMatchObject({ exists: false, ok: false, store: { kind: 'postgres', schema_version: 0, schema_expected: 1 } });
    expect(d.res.problems).toEqual([expect.objectContaining({ kind: 'schema', detail: expect.stringMatching(/no deia schema/), action: expect.stringMatching(/run `deia init --store postgres:\/\/[^`]*`/) })]);
    expect(run(['doctor'], at(0)).stdout).toMatch(/schema .*no deia schema/);
    expect(await sql("SELECT to_regclass('deia_schema_migrations')::text AS t")).toEqual([{ t: null }]);

    // Behind: the tables are there, the recorded version is older than this deia's.
    expect(run(['init']).code).toBe(0);
    await sql('DELETE FROM deia_schema_migrations');
    d = doctor(0);
    expect(d.code).toBe(1);
    expect(d.res).toMatchObject({ exists: true, store: { schema_version: 0, schema_expected: 1 } });
    expect(d.res.problems).toEqual([
      expect.objectContaining({ kind: 'schema', detail: expect.stringMatching(/schema version 0, this deia needs 1: migration needed/), action: expect.stringMatching(/doctor never migrates: run `deia init --store/) }),
    ]);
    expect(doctor(0, ['--repair']).res.problems[0]).toMatchObject({ kind: 'schema', repaired: false });
    expect(await sql('SELECT count(*)::int AS n FROM deia_schema_migrations')).toEqual([{ n: 0 }]);
    const human = run(['doctor'], at(0));
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/migration needed/);
    expect(human.stdout).toMatch(/deia init --store postgres:\/\/deia:\*\*\*@/);

    // Ahead: a newer deia migrated it.
    await sql("INSERT INTO deia_schema_migrations (version, name) VALUES (1, 'logs, queues, documents'), (2, 'from the future')");
    d = doctor(0);
    expect(d.code).toBe(1);
    expect(d.res.problems).toEqual([expect.objectContaining({ kind: 'schema', detail: expect.stringMatching(/schema version 2 is newer than this deia knows \(1\)/), action: 'upgrade deia' })]);
  });
});
