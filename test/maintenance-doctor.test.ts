import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, readJsonl, tempHive } from './helpers/cli.js';

/** A new hive folder (the storage interface's layout, marked by layout.json). */
function initHive() {
  const { dir } = tempHive();
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  return dir;
}

function old(p: string, ms = 3_600_000) {
  const t = new Date(Date.now() - ms);
  fs.utimesSync(p, t, t);
}

describe('deia doctor', () => {
  it('says a fresh hive is clean (exit 0); a missing one is not found (exit 1)', () => {
    const dir = initHive();
    const r = deia(['doctor'], { dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no problems/);
    const { dir: missing } = tempHive();
    const m = deia(['doctor', '--json'], { dir: missing });
    expect(m.code).toBe(1);
    expect(m.stderr).toContain(`hive not found at ${missing}`);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('lists corrupt and torn lines as file:line, stale locks with their age, orphan temp files, world-writable files', () => {
    const dir = initHive();
    fs.mkdirSync(path.join(dir, 'mailboxes'));
    fs.writeFileSync(path.join(dir, 'mailboxes/B1.jsonl'), '{"a":1}\n{"a":2}\ngarbage{\n{"a":3}\n[1,2]\n{"a":4,"b"');
    fs.writeFileSync(path.join(dir, 'tasks.jsonl'), '{"t":1}\n');
    fs.chmodSync(path.join(dir, 'tasks.jsonl'), 0o666);
    fs.mkdirSync(path.join(dir, 'performance.jsonl.lock'));
    old(path.join(dir, 'performance.jsonl.lock'), 120_000);
    fs.writeFileSync(path.join(dir, 'mailboxes/B1.jsonl.999999.1.1.0a0b0c.tmp'), '{"a":1}\n');

    const r = deia(['doctor', '--json'], { dir });
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.ok).toBe(false);
    const where = res.problems.map((p: any) => `${p.kind} ${p.path}${p.line ? ':' + p.line : ''}`).sort();
    expect(where).toEqual(
      [
        'corrupt_line mailboxes/B1.jsonl:3',
        'corrupt_line mailboxes/B1.jsonl:5',
        'torn_tail mailboxes/B1.jsonl:6',
        'orphan_temp mailboxes/B1.jsonl.999999.1.1.0a0b0c.tmp',
        'stale_lock performance.jsonl.lock',
        'world_writable tasks.jsonl',
      ].sort(),
    );
    const lock = res.problems.find((p: any) => p.kind === 'stale_lock');
    expect(lock.age_ms).toBeGreaterThanOrEqual(119_000);

    const human = deia(['doctor'], { dir });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/mailboxes\/B1\.jsonl:3/);
    expect(human.stdout).toMatch(/stale lock, not refreshed for 2m/);
    expect(human.stdout).toMatch(/deia doctor --repair/);
  });

  it('--repair moves bad lines verbatim to NAME.corrupt.jsonl, keeps every record, and leaves a clean hive', () => {
    const dir = initHive();
    fs.mkdirSync(path.join(dir, 'mailboxes'));
    const box = path.join(dir, 'mailboxes/B1.jsonl');
    fs.writeFileSync(box, '{"a":1}\n{"a":2}\ngarbage{\n{"a":3}\n{"a":4,"b"');
    fs.chmodSync(box, 0o666);
    fs.mkdirSync(path.join(dir, 'outbox.jsonl.lock'));
    old(path.join(dir, 'outbox.jsonl.lock'));

    const r = deia(['doctor', '--repair', '--json'], { dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.ok).toBe(true);
    expect(res.problems.every((p: any) => p.repaired)).toBe(true);
    expect(readJsonl(box)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(fs.readFileSync(path.join(dir, 'mailboxes/B1.corrupt.jsonl'), 'utf8')).toBe('garbage{\n{"a":4,"b"\n');
    expect(fs.existsSync(path.join(dir, 'outbox.jsonl.lock'))).toBe(false);
    expect(fs.statSync(box).mode & 0o002).toBe(0);

    const again = deia(['doctor'], { dir });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/no problems/);
    // a second repair has nothing left to move: the corrupt file is not touched again
    expect(deia(['doctor', '--repair'], { dir }).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'mailboxes/B1.corrupt.jsonl'), 'utf8')).toBe('garbage{\n{"a":4,"b"\n');
  });

  it('reports an invalid config.json as a problem (exit 1), never a crash', () => {
    const dir = initHive();
    fs.writeFileSync(path.join(dir, 'config.json'), '{"messaging":{"max_retries":"three"}}');
    const r = deia(['doctor'], { dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/config\s+config\.json\s+.*max_retries/);
    expect(r.stderr).toBe('');
    fs.writeFileSync(path.join(dir, 'config.json'), '{not json');
    const j = deia(['doctor', '--json', '--repair'], { dir });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).problems[0]).toMatchObject({ kind: 'config', repaired: false });
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{not json');
  });

  it('prints hostile file names without their escape sequences', () => {
    const dir = initHive();
    const name = 'x\x1b[2J\x1b]0;pwned\x07.jsonl';
    fs.writeFileSync(path.join(dir, name), 'not json\n');
    const r = deia(['doctor'], { dir });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/[\x1b\x07]/);
    expect(r.stdout).toMatch(/x\.jsonl:1/);
  });

  it('cross-checks inboxes against the audit log: a delivered message missing from its inbox is a problem', () => {
    const inbox = 'queues/inbox.B2.jsonl'; // B2's inbox in the layout a new folder holds
    const dir = initHive();
    deia(['register', 'B2'], { dir });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = deia(['send', '--as', 'B1', 'B2', `m${i}`, '--json'], { dir });
      expect(r.code, r.stderr).toBe(0);
      ids.push(JSON.parse(r.stdout).message_id);
    }
    const ok = JSON.parse(deia(['doctor', '--json'], { dir }).stdout);
    expect(ok.ok).toBe(true);
    expect(ok.audit).toMatchObject({ delivered_events: 3, missing: 0 });
    expect(ok.audit.in_mailboxes).toBeGreaterThanOrEqual(3);
    // lose one message from the mailbox behind deia's back
    const box = path.join(dir, inbox);
    const lines = fs.readFileSync(box, 'utf8').split('\n');
    const kept = lines.filter((l) => !l.includes(ids[1]!));
    expect(kept.length).toBeLessThan(lines.length);
    fs.writeFileSync(box, kept.join('\n'));
    const r = deia(['doctor', '--json'], { dir });
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.audit.missing).toBe(1);
    expect(res.problems).toEqual([expect.objectContaining({ kind: 'audit_mismatch', path: inbox, repaired: false })]);
    expect(res.problems[0].detail).toContain(ids[1]);
  });
});
