/**
 * deia doctor on a file:// folder (a hive folder run through the storage interface's file backend),
 * through real CLI processes: a clean hive is clean with the folder doctor's --json keys; damage
 * planted in its files (torn and corrupt lines in a queue and a log, documents that are not ones,
 * a symbolic link) is reported and, where the folder's doctor repairs it, repaired, the hive
 * working afterwards; a transaction killed halfway (DEIA_FAULT) leaves a journal that doctor
 * reports and --repair completes; overdue pending mail goes through cleanup's delivery step.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';
import { folderDoctorReport, type DoctorProblem } from './helpers/doctor.js';
import { fixture as hive01 } from './helpers/hive-0.1.js';

const HOUR = 3_600_000;
const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number): Record<string, string> => ({ DEIA_NOW: String(t0 + ms) });

type Problem = DoctorProblem;

/** The keys of the folder's doctor --json, from a real folder run. */
const folderDoctorKeys = (): string[] => Object.keys(folderDoctorReport()).sort();

describe('deia doctor on a file:// folder', () => {
  let hive: ReturnType<typeof freshInterfaceFolder>;
  const file = (rel: string) => path.join(hive.dir, rel);
  const run = (args: string[], env: Record<string, string> = {}) => deia(['--store', hive.url, ...args], { cwd: hive.root, env });
  const ok = (args: string[], env: Record<string, string> = {}) => {
    const r = run([...args, '--json'], env);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout);
  };
  const doctor = (extra: string[] = [], env: Record<string, string> = {}) => {
    const r = run(['doctor', '--json', ...extra], env);
    return { code: r.code, stderr: r.stderr, res: JSON.parse(r.stdout), problems: JSON.parse(r.stdout).problems as Problem[] };
  };
  const lines = (rel: string) => fs.readFileSync(file(rel), 'utf8').split('\n').filter(Boolean).length;

  beforeEach(() => {
    hive = freshInterfaceFolder();
  });
  afterEach(async () => {
    await hive.drop();
  });

  it('a clean hive is clean (exit 0), with the folder doctor\'s --json keys, and says so in words', () => {
    ok(['inbox', '--as', 'B']);
    ok(['send', 'B', 'hello', '--as', 'A']);
    expect(ok(['inbox', '--next', '--as', 'B', '--lease', '1m']).content).toBe('hello');
    ok(['record', 'B', 'code', '--success', '--as', 'B']);
    ok(['task', 'submit', 'fix the login bug', '--to', 'B', '--as', 'A']);

    const { code, stderr, res } = doctor();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(Object.keys(res).sort()).toEqual(folderDoctorKeys());
    expect(res).toMatchObject({
      dir: hive.dir,
      exists: true,
      repair: false,
      ok: true,
      problems: [],
      held_locks: [],
      repaired: 0,
      store: { kind: 'interface', schema_version: null, schema_expected: null, not_applicable: [] },
      audit: { mailboxes: 2, in_mailboxes: 2, archived: 0, delivered_events: 2, missing: 0, unlogged: 0 },
    });
    expect(res.files_checked).toBeGreaterThanOrEqual(3); // bot-messaging.jsonl, queues/inbox.B.jsonl, performance / tasks logs
    expect(res.records_checked).toBeGreaterThan(5);

    const human = run(['doctor']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^note: a folder in the storage interface's layout \(layout.json\) at /m);
    expect(human.stdout).not.toMatch(/migrate --upgrade/);
    expect(human.stdout).toMatch(/^ok: \d+ JSONL file\(s\), \d+ record\(s\) checked \(queue items, documents, log lines\); 2 inbox\(es\) agree with the audit log on 2 of 2 deliveries, no problems$/m);
  });

  it('torn and corrupt lines in a queue and a log are reported by line; --repair moves them aside and the hive still works', () => {
    ok(['inbox', '--as', 'B']);
    const first = ok(['send', 'B', 'one', '--as', 'A']).message_id as string;
    const q = lines('queues/inbox.B.jsonl');
    const l = lines('bot-messaging.jsonl');
    fs.appendFileSync(file('queues/inbox.B.jsonl'), 'garbage{\n{"t":"claim","id":"x"');
    fs.appendFileSync(file('bot-messaging.jsonl'), '{"event":"message_del\n');

    const before = doctor();
    expect(before.code).toBe(1);
    expect(before.problems.map((p) => `${p.kind} ${p.path}:${p.line}`).sort()).toEqual(
      [`corrupt_line queues/inbox.B.jsonl:${q + 1}`, `torn_tail queues/inbox.B.jsonl:${q + 2}`, `corrupt_line bot-messaging.jsonl:${l + 1}`].sort(),
    );
    const human = run(['doctor']);
    expect(human.stdout).toMatch(new RegExp(`^corrupt_line\\s+queues/inbox\\.B\\.jsonl:${q + 1}\\s+line does not parse`, 'm'));
    expect(human.stdout).toMatch(/^3 problem\(s\) found; .*\(run `deia doctor --repair`\)$/m);

    const rep = doctor(['--repair']);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.res).toMatchObject({ repair: true, ok: true, repaired: 3 });
    expect(rep.problems.filter((p) => p.path === 'queues/inbox.B.jsonl').every((p) => p.action === 'moved to queues/inbox.B.corrupt.jsonl')).toBe(true);
    expect(fs.readFileSync(file('queues/inbox.B.corrupt.jsonl'), 'utf8')).toBe('garbage{\n{"t":"claim","id":"x"\n');
    expect(fs.readFileSync(file('bot-messaging.corrupt.jsonl'), 'utf8')).toBe('{"event":"message_del\n');
    expect(lines('queues/inbox.B.jsonl')).toBe(q);

    // The backend takes the folder as it is now: the queue lists, mail goes in and out, and doctor is clean.
    const second = ok(['send', 'B', 'two', '--as', 'A']).message_id as string;
    expect(ok(['inbox', '--next', '--as', 'B']).message_id).toBe(first);
    expect(ok(['inbox', '--next', '--as', 'B']).message_id).toBe(second);
    const after = doctor();
    expect(after.problems).toEqual([]);
    expect(after.code).toBe(0);
  });

  it('documents that do not parse, are not {version, value}, or not of their kind are reported and left', () => {
    ok(['inbox', '--as', 'B']);
    fs.writeFileSync(file('docs/bot.C.json'), 'not json');
    fs.writeFileSync(file('docs/key.k1.json'), '{"value":{"key":"k1","messages":[]}}');
    fs.writeFileSync(file('docs/bot.D.json'), JSON.stringify({ version: 1, value: { bot_id: 'E', timestamp: '2030-01-01T00:00:00Z' } }));

    const { code, problems } = doctor(['--repair']);
    expect(code).toBe(1);
    const find = (p: string) => problems.find((x) => x.path === p);
    expect(find('docs/bot.C.json')).toMatchObject({ kind: 'bad_document', repaired: false, detail: 'does not parse: "not json"' });
    expect(find('docs/key.k1.json')).toMatchObject({ kind: 'bad_document', repaired: false, detail: expect.stringMatching(/^not a stored document: .*version/) });
    expect(find('docs/bot.D.json')).toMatchObject({ kind: 'bad_document', repaired: false, detail: 'not a valid bot document: bot_id does not match the key' });
    expect(problems).toHaveLength(3);
    for (const p of problems) expect(p.action).toBe(`not changed by doctor: fix or remove it (${p.path})`);
    expect(fs.readFileSync(file('docs/bot.C.json'), 'utf8')).toBe('not json');

    const human = run(['doctor']);
    expect(human.stdout).toMatch(/^problem\s+where\s+detail\s+what to do$/m);
    expect(human.stdout).toMatch(/^bad_document\s+docs\/bot\.C\.json\s+does not parse: "not json"\s+not changed by doctor/m);
    // Nothing --repair fixes: not suggested.
    expect(human.stdout).toMatch(/^3 problem\(s\) found; /m);
    expect(human.stdout).not.toContain('deia doctor --repair');
  });

  it('a transaction killed halfway leaves a journal: reported with its files, completed by --repair (every part of it there)', () => {
    ok(['inbox', '--as', 'B']);
    ok(['send', 'B', 'before', '--as', 'A']);
    const killed = run(['send', 'B', 'torn apart', '--as', 'A'], { DEIA_FAULT: 'file-txn-kill:1' });
    expect(killed.code).not.toBe(0);
    const [name] = fs.readdirSync(file('txn'));
    expect(name).toMatch(/\.json$/);
    const journal = JSON.parse(fs.readFileSync(file(`txn/${name}`), 'utf8')) as { files: string[]; appends: Array<{ rel: string; records: unknown[] }>; docs: Array<{ rel: string; version: number; value: unknown }> };
    expect(journal.files.length).toBeGreaterThan(1);
    const written = (a: { rel: string; records: unknown[] }) => {
      const have = new Set(readJsonl(file(a.rel)).map((r) => JSON.stringify(r)));
      return a.records.every((r) => have.has(JSON.stringify(r)));
    };
    expect(journal.appends.every(written)).toBe(false); // torn: some of it is not there yet

    const { code, problems } = doctor();
    expect(code).toBe(1);
    const p = problems.find((x) => x.kind === 'pending_transaction')!;
    expect(p).toMatchObject({ path: `txn/${name}`, repaired: false, age_ms: expect.any(Number) });
    for (const f of journal.files) expect(p.detail).toContain(f);
    // Its log lines were written, its inbox item not: the delivery looks lost, and doctor says why.
    expect(problems.find((x) => x.kind === 'audit_mismatch')).toMatchObject({ path: 'queues/inbox.B.jsonl', action: expect.stringContaining(`pending transaction txn/${name}`) });
    // Reporting changes nothing: the journal waits.
    expect(fs.readdirSync(file('txn'))).toEqual([name]);
    expect(run(['doctor']).stdout).toMatch(new RegExp(`^pending_transaction\\s+txn/${name.replace(/\./g, '\\.')}\\s+transaction killed halfway`, 'm'));

    const rep = doctor(['--repair']);
    expect(rep.code, JSON.stringify(rep.problems)).toBe(0);
    expect(rep.problems.find((x) => x.kind === 'pending_transaction')).toMatchObject({ repaired: true, action: expect.stringMatching(/^completed/) });
    expect(fs.readdirSync(file('txn'))).toEqual([]);
    // Every part of the transaction is there, once.
    for (const a of journal.appends) {
      const have = readJsonl(file(a.rel)).map((r) => JSON.stringify(r));
      for (const r of a.records) expect(have.filter((h) => h === JSON.stringify(r))).toHaveLength(1);
    }
    for (const d of journal.docs) expect(JSON.parse(fs.readFileSync(file(d.rel), 'utf8'))).toEqual({ version: d.version, value: d.value });
    expect(ok(['inbox', '--as', 'B']).map((m: { content: string }) => m.content)).toEqual(['before', 'torn apart']);
    expect(doctor().code).toBe(0);
  });

  it('a symbolic link is reported; --repair renames the link, its target untouched', () => {
    const outside = path.join(hive.root, 'outside.jsonl');
    fs.writeFileSync(outside, '{"a":1}\n');
    fs.mkdirSync(file('queues'), { recursive: true });
    fs.symlinkSync(outside, file('queues/inbox.X.jsonl'));
    const { code, problems } = doctor();
    expect(code).toBe(1);
    expect(problems).toEqual([expect.objectContaining({ kind: 'symlink', path: 'queues/inbox.X.jsonl', repaired: false, detail: expect.stringContaining(`pointing to ${outside}`) })]);
    const rep = doctor(['--repair']);
    expect(rep.code).toBe(0);
    expect(rep.problems[0]).toMatchObject({ kind: 'symlink', repaired: true });
    expect(fs.lstatSync(file('queues/inbox.X.jsonl.link-moved-aside')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(outside, 'utf8')).toBe('{"a":1}\n');
    expect(doctor().code).toBe(0);
  });

  it('stale locks, orphan temp files and world-writable files are reported and repaired as in a folder', () => {
    ok(['inbox', '--as', 'B']);
    ok(['send', 'B', 'hello', '--as', 'A']);
    fs.mkdirSync(file('queues/inbox.B.jsonl.lock'));
    const hourAgo = new Date(Date.now() - HOUR);
    fs.utimesSync(file('queues/inbox.B.jsonl.lock'), hourAgo, hourAgo);
    fs.writeFileSync(file('docs/outbox.json.999999.1.1.0a0b0c.tmp'), '{}');
    fs.chmodSync(file('bot-messaging.jsonl'), 0o666);

    const { code, problems } = doctor();
    expect(code).toBe(1);
    expect(problems.map((p) => `${p.kind} ${p.path}`).sort()).toEqual(
      ['orphan_temp docs/outbox.json.999999.1.1.0a0b0c.tmp', 'stale_lock queues/inbox.B.jsonl.lock', 'world_writable bot-messaging.jsonl'].sort(),
    );
    const rep = doctor(['--repair']);
    expect(rep.code, JSON.stringify(rep.problems)).toBe(0);
    expect(rep.res.repaired).toBe(3);
    expect(fs.existsSync(file('queues/inbox.B.jsonl.lock'))).toBe(false);
    expect(fs.existsSync(file('docs/outbox.json.999999.1.1.0a0b0c.tmp'))).toBe(false);
    expect(fs.statSync(file('bot-messaging.jsonl')).mode & 0o002).toBe(0);
    expect(ok(['inbox', '--next', '--as', 'B']).content).toBe('hello');
  });

  it('overdue pending mail is reported; --repair runs cleanup\'s delivery step (expired, as cleanup would)', () => {
    const overdue = ok(['send', 'C', 'nobody home', '--as', 'A', '--ttl', '60'], at(0)).message_id as string; // C never looks
    expect(doctor([], at(60_000)).code).toBe(0); // within the grace

    const { code, problems } = doctor([], at(2 * HOUR));
    expect(code).toBe(1);
    expect(problems).toEqual([
      expect.objectContaining({ kind: 'overdue_mail', path: 'docs/outbox.json', detail: expect.stringMatching(new RegExp(`^message ${overdue} to C: expired .* ago \\(TTL\\) .*\`deia cleanup\` is not running`)) }),
    ]);
    expect(run(['doctor'], at(2 * HOUR)).stdout).toMatch(/^1 problem\(s\) found; .*\(run `deia doctor --repair`\)$/m);

    const rep = doctor(['--repair'], at(2 * HOUR));
    expect(rep.code, JSON.stringify(rep.problems)).toBe(0);
    expect(rep.problems[0]).toMatchObject({ kind: 'overdue_mail', repaired: true, action: expect.stringMatching(/cleanup's delivery step \(.*1 expired\)/) });
    const dead = readJsonl(file('queues/dead.C.jsonl')) as Array<{ t: string; id: string; payload?: { status: string } }>;
    expect(dead.filter((e) => e.t === 'item').map((e) => [e.id, e.payload?.status])).toEqual([[overdue, 'expired']]);
    const logged = (readJsonl(file('bot-messaging.jsonl')) as Array<{ event: string; message_id: string }>).filter((e) => e.event === 'message_expired');
    expect(logged.map((e) => e.message_id)).toEqual([overdue]);
    expect(doctor([], at(2 * HOUR)).code).toBe(0);
  });
});

describe('which layout doctor found', () => {
  it("a new folder is in the storage interface's layout; a folder deia 0.1 made is the problem old_layout (exit 1), left as it is until --repair", () => {
    const fresh = tempHive();
    const fixtureCleanups: Array<() => void | Promise<void>> = [];
    const old = hive01('messaging', fixtureCleanups); // a copy of a hive deia 0.1 made (test/fixtures/hive-0.1/)
    try {
      expect(deia(['init'], { dir: fresh.dir }).code).toBe(0);
      expect(deia(['send', 'B', 'hi', '--as', 'A'], { dir: fresh.dir }).code).toBe(0);
      expect(fs.existsSync(path.join(fresh.dir, 'layout.json'))).toBe(true);
      // Nothing of the 0.1 layout in a new folder (init's lock included), so it is never taken for one.
      for (const e of ['mailboxes', 'outbox.jsonl', 'presence', 'state']) expect(fs.existsSync(path.join(fresh.dir, e)), e).toBe(false);
      const a = deia(['doctor'], { dir: fresh.dir });
      expect(a.code, a.stdout).toBe(0);
      expect(a.stdout).toMatch(/^note: a folder in the storage interface's layout/m);
      expect(JSON.parse(deia(['doctor', '--json'], { dir: fresh.dir }).stdout).store.kind).toBe('interface');

      const before = snapshotTree(old.dir);
      const b = deia(['doctor'], { dir: old.dir, env: old.env });
      expect(b.code, b.stdout).toBe(1);
      expect(b.stdout).toMatch(/^old_layout +\. +deia 0\.1's folder layout: other commands refuse it until it is upgraded$/m);
      expect(b.stdout).toMatch(/run `deia doctor --repair`/);
      const j = deia(['doctor', '--json'], { dir: old.dir, env: old.env });
      expect(j.code).toBe(1);
      const res = JSON.parse(j.stdout);
      expect(res.store.kind).toBe('file');
      expect(res.problems).toEqual([expect.objectContaining({ kind: 'old_layout', repaired: false, action: 'stop the bots that use it, then: deia doctor --repair (or deia migrate --upgrade)' })]);
      expect(fs.existsSync(path.join(old.dir, 'layout.json'))).toBe(false);
      expect(snapshotTree(old.dir)).toEqual(before);
    } finally {
      fs.rmSync(fresh.root, { recursive: true, force: true });
      for (const c of fixtureCleanups) c();
    }
  });
});
