import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

/**
 * Issue 12.2, each reproduction with real processes: a link planted inside .deia/ never gets
 * a write through it. The victim stays byte-identical and keeps its mode.
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

function hive(): string {
  const { dir } = tempHive('deia-links-');
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(deia(['register', 'ALICE'], { dir }).code).toBe(0);
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
  it('a mailbox linked to a victim file: send and send @all refuse, the victim is untouched', () => {
    const dir = hive();
    const v = victim();
    fs.mkdirSync(path.join(dir, 'mailboxes'), { recursive: true });
    const link = path.join(dir, 'mailboxes', 'EVIL.jsonl');
    fs.symlinkSync(v.file, link);
    expectRefused(deia(['send', 'EVIL', 'hi', '--as', 'ALICE'], { dir }), link);
    expectRefused(deia(['send', '@all', 'hi all', '--as', 'ALICE'], { dir }), link);
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

  it('linked state/*.json files are not replaced by health or cleanup (the atomic writer)', () => {
    const dir = hive();
    expect(deia(['record', 'ALICE', 'code', '--success', '--duration', '100'], { dir }).code).toBe(0);
    expect(deia(['health', 'record', 'cpu', '50', '--bot', 'ALICE'], { dir }).code).toBe(0);
    const state = path.join(dir, 'state');
    fs.mkdirSync(state, { recursive: true });
    const victims: Array<ReturnType<typeof victim>> = [];
    for (const name of ['health.json', 'outbox.json', 'tasks.json', 'scheduling.json', 'health-agg.json']) {
      const v = victim();
      fs.rmSync(path.join(state, name), { force: true });
      fs.symlinkSync(v.file, path.join(state, name));
      victims.push(v);
    }
    // Whatever each command answers, nothing reaches a victim.
    for (const args of [['health'], ['health', '--json'], ['cleanup'], ['send', 'ALICE', 'x', '--as', 'ALICE'], ['recommend', 'code']]) {
      const r = deia(args, { dir });
      expect(r.stderr, args.join(' ')).not.toMatch(/internal error/);
    }
    for (const v of victims) v.check();
    for (const name of ['health.json', 'outbox.json']) expect(fs.lstatSync(path.join(state, name)).isSymbolicLink()).toBe(true);
  });

  it('a linked folder (mailboxes/ pointing elsewhere) is refused too', () => {
    const dir = hive();
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-elsewhere-'));
    fs.rmSync(path.join(dir, 'mailboxes'), { recursive: true, force: true });
    fs.symlinkSync(elsewhere, path.join(dir, 'mailboxes'));
    const r = deia(['send', 'ALICE', 'hi', '--as', 'ALICE'], { dir });
    expectRefused(r, path.join(dir, 'mailboxes'));
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('a lock folder planted as a link is refused, and its target folder is left alone', () => {
    const dir = hive();
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-lockvictim-'));
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(target, old, old);
    const link = path.join(dir, 'bots.jsonl.lock');
    fs.symlinkSync(target, link);
    expectRefused(deia(['register', 'BOB'], { dir }), link);
    expect(fs.readdirSync(target)).toEqual([]);
    expect(fs.statSync(target).mtimeMs).toBe(old.getTime());
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('doctor reports links; doctor --repair renames the link itself and never touches its target', () => {
    const dir = hive();
    const v = victim();
    fs.mkdirSync(path.join(dir, 'mailboxes'), { recursive: true });
    const link = path.join(dir, 'mailboxes', 'EVIL.jsonl');
    fs.symlinkSync(v.file, link);
    const check = deia(['doctor', '--json'], { dir });
    expect(check.code).toBe(1);
    const found = JSON.parse(check.stdout).problems.filter((p: { kind: string }) => p.kind === 'symlink');
    expect(found.map((p: { path: string }) => p.path)).toEqual(['mailboxes/EVIL.jsonl']);
    expect(found[0].detail).toContain(v.file);
    const repair = deia(['doctor', '--repair', '--json'], { dir });
    expect(repair.code).toBe(0);
    expect(JSON.parse(repair.stdout).problems[0].action).toContain('mailboxes/EVIL.jsonl.link-moved-aside');
    expect(fs.existsSync(link)).toBe(false);
    expect(fs.readlinkSync(link + '.link-moved-aside')).toBe(v.file);
    v.check();
    expect(deia(['doctor'], { dir }).code).toBe(0);
    // After the repair the bot gets a real mailbox; the victim still untouched.
    expect(deia(['register', 'EVIL'], { dir }).code).toBe(0);
    expect(deia(['send', 'EVIL', 'hi', '--as', 'ALICE'], { dir }).code).toBe(0);
    expect(fs.lstatSync(link).isFile()).toBe(true);
    v.check();
  });
});
