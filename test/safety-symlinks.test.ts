import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

/**
 * Issue 12.2, each reproduction with real processes: a link planted inside .deia/ (a hive folder
 * in the default layout: queues/, docs/, txn/ and the audit logs) never gets a write through it.
 * The victim stays byte-identical and keeps its mode.
 */
function victim(): { file: string; check: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-victim-'));
  const file = path.join(dir, 'victim.txt');
  fs.writeFileSync(file, 'root-only secret\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  const bytes = fs.readFileSync(file);
  return {
    file,
    check: () => {
      expect(fs.readFileSync(file).equals(bytes), 'victim bytes').toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    },
  };
}

/** A new hive folder (the default layout: queues/, docs/) with ALICE registered. */
function hive(): string {
  const { dir } = tempHive('deia-links-');
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(deia(['register', 'ALICE'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  return dir;
}

function expectRefused(r: { code: number; stderr: string }, link: string): void {
  expect(r.code).not.toBe(0);
  // The store refuses the write itself; a send checks its targets first and names the link the same way.
  const viaStore = r.stderr.includes(`refusing to write through a symbolic link: ${link}`);
  const viaSendCheck = r.stderr.includes(`cannot write ${link.replace(/^.*\.deia\//, '')}: it is a symbolic link`);
  expect(viaStore || viaSendCheck, r.stderr).toBe(true);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

describe('symbolic links inside the hive', () => {
  it('an inbox queue linked to a victim file: send and send @all refuse, store nothing, and the hive keeps working', () => {
    const dir = hive();
    expect(deia(['register', 'EVIL'], { dir }).code).toBe(0);
    expect(deia(['register', 'BOB'], { dir }).code).toBe(0);
    const v = victim();
    fs.mkdirSync(path.join(dir, 'queues'), { recursive: true });
    const link = path.join(dir, 'queues', 'inbox.EVIL.jsonl');
    fs.symlinkSync(v.file, link);
    const audit = () => (fs.existsSync(path.join(dir, 'bot-messaging.jsonl')) ? fs.readFileSync(path.join(dir, 'bot-messaging.jsonl'), 'utf8') : '');
    const before = audit();
    expectRefused(deia(['send', 'EVIL', 'hi', '--as', 'ALICE'], { dir }), link);
    expectRefused(deia(['send', '@all', 'hi all', '--as', 'ALICE'], { dir }), link);
    v.check();
    // Refused before anything is written: no audit line claims a delivery, no half-made transaction is left
    // (one would block every later write naming the audit log), and mail to the other bots still flows.
    expect(audit()).toBe(before);
    expect(fs.existsSync(path.join(dir, 'txn')) ? fs.readdirSync(path.join(dir, 'txn')) : []).toEqual([]);
    const ok = deia(['send', 'BOB', 'still works', '--as', 'ALICE'], { dir });
    expect(ok.code, ok.stderr).toBe(0);
    const inbox = deia(['inbox', '--as', 'BOB', '--json'], { dir });
    expect(inbox.code, inbox.stderr).toBe(0);
    expect(inbox.stdout).toContain('still works');
    expect(inbox.stdout).not.toContain('hi all');
    expect(deia(['doctor', '--json'], { dir }).stdout).not.toContain('pending_transaction');
    v.check();
  });

  it('a linked audit log (bot-messaging.jsonl) gets no audit lines', () => {
    const dir = hive();
    const v = victim();
    const link = path.join(dir, 'bot-messaging.jsonl');
    fs.rmSync(link, { force: true });
    fs.symlinkSync(v.file, link);
    expectRefused(deia(['send', 'ALICE', 'hi', '--as', 'ALICE'], { dir }), link);
    v.check();
  });

  it('linked docs/*.json documents are not replaced by health, cleanup, send or recommend', () => {
    const dir = hive();
    expect(deia(['record', 'ALICE', 'code', '--success', '--duration', '100'], { dir }).code).toBe(0);
    expect(deia(['health', 'record', 'cpu', '50', '--bot', 'ALICE'], { dir }).code).toBe(0);
    const docs = path.join(dir, 'docs');
    const names = ['health.json', 'health-agg.json', 'outbox.json', 'scheduling.json', 'scheduling.code.json', 'presence.ALICE.json', 'bot.ALICE.json'];
    // The documents those commands wrote are there, so the links below take real documents' places.
    for (const name of ['health.json', 'health-agg.json', 'scheduling.json', 'scheduling.code.json', 'bot.ALICE.json']) {
      expect(fs.lstatSync(path.join(docs, name)).isFile(), name).toBe(true);
    }
    const victims: Array<ReturnType<typeof victim>> = [];
    for (const name of names) {
      const v = victim();
      fs.rmSync(path.join(docs, name), { force: true });
      fs.symlinkSync(v.file, path.join(docs, name));
      victims.push(v);
    }
    for (const args of [['health'], ['health', '--json'], ['cleanup'], ['send', 'ALICE', 'x', '--as', 'ALICE'], ['recommend', 'code']]) {
      const r = deia(args, { dir });
      expect(r.stderr, args.join(' ')).not.toMatch(/internal error|\n\s+at /);
    }
    expectRefused(deia(['send', 'ALICE', 'x', '--as', 'ALICE'], { dir }), path.join(docs, 'bot.ALICE.json'));
    for (const v of victims) v.check();
    for (const name of names) expect(fs.lstatSync(path.join(docs, name)).isSymbolicLink(), name).toBe(true);
    expect(fs.existsSync(path.join(dir, 'txn')) ? fs.readdirSync(path.join(dir, 'txn')) : []).toEqual([]);
  });

  it.each([
    { folder: 'queues', args: ['send', 'ALICE', 'hi', '--as', 'ALICE'] },
    { folder: 'docs', args: ['health', 'record', 'cpu', '50', '--bot', 'ALICE'] },
    { folder: 'txn', args: ['send', '@all', 'hi all', '--as', 'ALICE'] },
  ])('a linked folder ($folder/ pointing elsewhere) is refused too', ({ folder, args }) => {
    const dir = hive();
    expect(deia(['register', 'BOB'], { dir }).code).toBe(0);
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-elsewhere-'));
    fs.rmSync(path.join(dir, folder), { recursive: true, force: true });
    fs.symlinkSync(elsewhere, path.join(dir, folder));
    expectRefused(deia(args, { dir }), path.join(dir, folder));
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it.each([
    { lock: 'bots.jsonl.lock', args: ['register', 'BOB'] },
    { lock: 'queues/inbox.ALICE.jsonl.lock', args: ['send', 'ALICE', 'hi', '--as', 'ALICE'] },
  ])('a lock folder planted as a link ($lock) is refused, and its target folder is left alone', ({ lock, args }) => {
    const dir = hive();
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-lockvictim-'));
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(target, old, old);
    const link = path.join(dir, lock);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(target, link);
    expectRefused(deia(args, { dir }), link);
    expect(fs.readdirSync(target)).toEqual([]);
    expect(fs.statSync(target).mtimeMs).toBe(old.getTime());
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('doctor reports links; doctor --repair renames the link itself and never touches its target', () => {
    const rel = 'queues/inbox.EVIL.jsonl'; // the inbox's queue file
    const dir = hive();
    const v = victim();
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    const link = path.join(dir, rel);
    fs.symlinkSync(v.file, link);
    const check = deia(['doctor', '--json'], { dir });
    expect(check.code).toBe(1);
    const found = JSON.parse(check.stdout).problems.filter((p: { kind: string }) => p.kind === 'symlink');
    expect(found.map((p: { path: string }) => p.path)).toEqual([rel]);
    expect(found[0].detail).toContain(v.file);
    const repair = deia(['doctor', '--repair', '--json'], { dir });
    expect(repair.code).toBe(0);
    expect(JSON.parse(repair.stdout).problems[0].action).toContain(`${rel}.link-moved-aside`);
    expect(fs.existsSync(link)).toBe(false);
    expect(fs.readlinkSync(link + '.link-moved-aside')).toBe(v.file);
    v.check();
    expect(deia(['doctor'], { dir }).code).toBe(0);
    // After the repair the bot gets a real inbox; the victim still untouched.
    expect(deia(['register', 'EVIL'], { dir }).code).toBe(0);
    expect(deia(['send', 'EVIL', 'hi', '--as', 'ALICE'], { dir }).code).toBe(0);
    expect(fs.lstatSync(link).isFile()).toBe(true);
    expect(deia(['inbox', '--as', 'EVIL', '--json'], { dir }).stdout).toContain('"hi"');
    v.check();
  });
});
