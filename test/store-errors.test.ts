import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, mainPath, readJsonl, snapshotTree } from './helpers/cli.js';

/**
 * A full disk, a read-only mount, permissions and a folder where a file belongs (issue 12.6):
 * one-line errors naming the cause and the file, exit 1; a failed `record` stores nothing;
 * `health`, `recommend` and `stats` still answer on a hive they cannot write.
 * Real mounts: these tests run as root (as CI does), and fail otherwise.
 */
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
});

function tmpfs(size: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-mnt-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function oneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]).not.toMatch(/internal error|report it/);
}

/** Outcomes and a sample in a new hive (the default layout). */
function hiveWithOutcomes(dir: string): void {
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  for (const [bot, ok] of [['A', true], ['B', true], ['A', false]] as const) {
    expect(deia(['record', bot, 'code', ok ? '--success' : '--failure', '--duration', '100'], { dir }).code).toBe(0);
  }
  expect(deia(['health', 'record', 'cpu', '50'], { dir }).code).toBe(0);
}

describe('a full disk', () => {
  it('a failed record says "disk full" and the file, exits 1, and stores nothing: outcomes and audit lines match the successes', () => {
    const mnt = tmpfs('256k');
    const dir = path.join(mnt, '.deia');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['record', 'A', 'code', '--success'], { dir }).code).toBe(0);
    // Leave about 12 KB: a few dozen records, then every step of a record in turn meets the full disk.
    const free = fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(Math.max(0, free - 12 * 1024)));
    let ok = 1;
    let failures = 0;
    for (let i = 0; i < 300 && failures < 6; i++) {
      const r = deia(['record', 'A', 'code', '--success', '--duration', String(100 + i), '--tokens', '900'], { dir });
      if (r.code === 0) ok++;
      else {
        failures++;
        expect(r.code).toBe(1);
        oneLineError(r.stderr, /^deia: disk full while (appending to|writing|taking the lock on) .*\.deia\/\S+ \(free some space/);
      }
      const outcomes = readJsonl(path.join(dir, 'performance.jsonl'));
      expect(outcomes).toHaveLength(ok);
      const audit = readJsonl(path.join(dir, 'adaptive-scheduling.jsonl')).filter((e) => e.event === 'performance_recorded');
      expect(audit).toHaveLength(ok);
      expect(fs.readFileSync(path.join(dir, 'performance.jsonl'), 'utf8').endsWith('\n')).toBe(true);
    }
    expect(failures).toBeGreaterThan(0);
    // Space again: the retry stores the outcome once, and the aggregates agree with the log.
    fs.rmSync(path.join(mnt, 'filler'));
    expect(deia(['record', 'A', 'code', '--success'], { dir }).code).toBe(0);
    const stats = JSON.parse(deia(['stats', '--json'], { dir }).stdout);
    expect(stats.find((s: any) => s.bot_id === 'A' && s.task_type === 'code')).toMatchObject({ samples: ok + 1 });
  }, 300_000);
});

/**
 * What a hive keeps folded (aggregates, routing and health state): the health and scheduling
 * documents in docs/. Removed, every answer must fold the logs.
 */
function forgetFoldedState(dir: string): void {
  const folded = fs.readdirSync(path.join(dir, 'docs')).filter((f) => /^(health|scheduling)/.test(f));
  expect(folded).toEqual(expect.arrayContaining(['health-agg.json', 'scheduling.json', 'scheduling.code.json']));
  for (const f of folded) fs.rmSync(path.join(dir, 'docs', f));
}

// Reading commands on a hive they cannot write: behaviour a user relies on (a read-only backup, a
// monitoring user).
describe('a hive this process cannot write', () => {
  it('on a read-only mount, health, recommend and stats answer and store nothing; record says why it cannot', () => {
    const mnt = tmpfs('2m');
    const dir = path.join(mnt, '.deia');
    hiveWithOutcomes(dir);
    // New outcomes that no state file has folded yet: the answers must still count them.
    expect(deia(['record', 'B', 'code', '--success'], { dir }).code).toBe(0);
    forgetFoldedState(dir);
    const before = snapshotTree(dir);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);

    const h = deia(['health', '--json'], { dir });
    expect(h.code, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout).level).toBe('HEALTHY');
    const rec = deia(['recommend', 'code', '--json'], { dir });
    expect(rec.code, rec.stderr).toBe(0);
    expect(JSON.parse(rec.stdout).candidate_bots.map((c: any) => [c.bot_id, c.samples])).toEqual(
      expect.arrayContaining([
        ['A', 2],
        ['B', 2],
      ]),
    );
    const st = deia(['stats', '--json'], { dir });
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toHaveLength(2);

    const r = deia(['record', 'A', 'code', '--success'], { dir });
    expect(r.code).toBe(1);
    oneLineError(r.stderr, /^deia: read-only file system while .*performance\.jsonl.* \(remount it read-write/);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('as another user without write permission, health and recommend answer; record says "permission denied"', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-perm-'));
    fs.chmodSync(root, 0o755);
    const dir = path.join(root, '.deia');
    hiveWithOutcomes(dir);
    const before = snapshotTree(dir);
    // The built CLI, copied where user nobody can read it (the worktree may not be).
    const build = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-build-'));
    fs.cpSync(path.dirname(path.dirname(mainPath())), build, { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', build]);
    const main = path.join(build, path.relative(path.dirname(path.dirname(mainPath())), mainPath()));
    const asNobody = (args: string[]) => {
      try {
        const stdout = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, main, '--dir', dir, ...args], {
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1', DEIA_DIR: '', DEIA_BOT: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        return { code: 0, stdout, stderr: '' };
      } catch (e: any) {
        return { code: e.status as number, stdout: String(e.stdout), stderr: String(e.stderr) };
      }
    };
    const h = asNobody(['health', '--json']);
    expect(h.code, h.stderr).toBe(0);
    const rec = asNobody(['recommend', 'code', '--json']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(JSON.parse(rec.stdout).candidate_bots).toHaveLength(2);
    const r = asNobody(['record', 'A', 'code', '--success']);
    expect(r.code).toBe(1);
    oneLineError(r.stderr, /^deia: permission denied while .*performance\.jsonl/);
    expect(snapshotTree(dir)).toEqual(before);
  });
});

describe('a folder where a file belongs', () => {
  it('reading an inbox that is a folder is a one-line error naming it, exit 1', () => {
    const inbox = 'queues/inbox.B.jsonl'; // the inbox's queue file
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-isdir-'));
    const dir = path.join(root, '.deia');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    fs.mkdirSync(path.join(dir, inbox), { recursive: true });
    const r = deia(['inbox', 'B', '--as', 'B'], { dir });
    expect(r.code).toBe(1);
    const named = inbox.replace(/[./]/g, (c) => `\\${c}`);
    oneLineError(r.stderr, new RegExp(`^deia: found a folder where a file should be while reading .*${named} \\(move the folder aside`));
  });

  it('a document that is a folder: health record is a one-line error, stores nothing and leaves no transaction half made', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-isdir-'));
    const dir = path.join(root, '.deia');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    expect(deia(['health', 'record', 'cpu', '5', '--bot', 'B1'], { dir }).code).toBe(0);
    const agg = path.join(dir, 'docs/health-agg.json');
    expect(fs.lstatSync(agg).isFile()).toBe(true);
    fs.rmSync(agg);
    fs.mkdirSync(agg);
    const r = deia(['health', 'record', 'cpu', '7', '--bot', 'B1'], { dir });
    expect(r.code).toBe(1);
    oneLineError(r.stderr, /^deia: .*docs\/health-agg\.json.*(directory|folder)/);
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((x) => x.value)).toEqual([5]);
    expect(fs.existsSync(path.join(dir, 'txn')) ? fs.readdirSync(path.join(dir, 'txn')) : []).toEqual([]);
    // Folder moved aside: the next sample is stored once, and the refused one never appears.
    fs.rmdirSync(agg);
    expect(deia(['health', 'record', 'cpu', '9', '--bot', 'B1'], { dir }).code).toBe(0);
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((x) => x.value)).toEqual([5, 9]);
  });
});
