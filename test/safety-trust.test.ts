import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, type CliResult } from './helpers/cli.js';

/**
 * Folder trust (issue 12.1) and finding the right hive (issue 10.1-10.3), through real
 * processes: a hive planted by another user (uid 65534, nobody) in a shared folder, and
 * deia run as that user with setpriv.
 */
const NOBODY = 65534;

function sharedRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-trust-'));
  fs.chmodSync(root, 0o1777); // a shared, world-writable folder such as /tmp
  return root;
}

/** A hive made by `nobody`, with a spawn command that leaves proof it ran. */
function plantForeignHive(root: string, proof: string): string {
  const dir = path.join(root, '.deia');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
  expect(deia(['init'], { dir, env: { HOME: home } }).code).toBe(0);
  const cfgFile = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.scaling.spawn_command = `id > ${proof}`;
  cfg.scaling.scale_up_queue_depth = 1;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  // One queued task: the advice is to scale up, so --exec would run the spawn command.
  expect(deia(['task', 'submit', 'fix the build', '--type', 'code', '--as', 'LEAD'], { dir }).code).toBe(0);
  expect(JSON.parse(deia(['scale', '--json'], { dir }).stdout).action).toBe('up');
  chownTree(dir, NOBODY);
  return dir;
}

function chownTree(p: string, uid: number): void {
  fs.lchownSync(p, uid, uid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid);
}

/** Run the CLI as `nobody` (needs root, which the test machine gives). */
function deiaAsNobody(args: string[], cwd: string, env: Record<string, string> = {}): CliResult {
  // The private test build is mode 700; nobody needs to read it.
  for (let d = path.dirname(mainPath()); d.includes('deia-test-build-'); d = path.dirname(d)) fs.chmodSync(d, 0o755);
  const r = spawnSync(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, mainPath(), ...args],
    { cwd, encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1', HOME: cwd, ...env } },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('folder trust (a hive owned by someone else)', () => {
  it('refuses a foreign hive found by walking up: one line, exit 2, naming the folder and its owner', () => {
    const root = sharedRoot();
    const proof = path.join(os.tmpdir(), `deia-pwned-${process.pid}-${Date.now()}.txt`);
    const dir = plantForeignHive(root, proof);
    const sub = path.join(root, 'work', 'deep');
    fs.mkdirSync(sub, { recursive: true });
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
    for (const args of [['task', 'submit', 'fix it', '--as', 'ROOT', '--type', 'code'], ['scale', '--exec'], ['status'], ['health']]) {
      const r = deia(args, { cwd: sub, env: { HOME: home } });
      expect(r.code, args.join(' ')).toBe(args[0] === 'health' ? 3 : 2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`refusing the hive ${dir}`);
      expect(r.stderr).toContain(`it is owned by nobody (uid ${NOBODY}), not by you, root (uid 0)`);
    }
    expect(fs.existsSync(proof)).toBe(false);
    const tasks = deia(['task', 'list', '--json'], { dir, env: { DEIA_TRUSTED_DIRS: '*' } });
    expect(JSON.parse(tasks.stdout)).toHaveLength(1);
  });

  it('trusts a foreign hive named in DEIA_TRUSTED_DIRS or in ~/.config/deia/trusted, and `*`', () => {
    const root = sharedRoot();
    const dir = plantForeignHive(root, '/dev/null');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
    expect(deia(['status'], { cwd: root, env: { HOME: home } }).code).toBe(2);
    expect(deia(['status'], { cwd: root, env: { HOME: home, DEIA_TRUSTED_DIRS: `/elsewhere${path.delimiter}${root}` } }).code).toBe(0);
    expect(deia(['status'], { cwd: root, env: { HOME: home, DEIA_TRUSTED_DIRS: dir } }).code).toBe(0);
    expect(deia(['status'], { cwd: root, env: { HOME: home, DEIA_TRUSTED_DIRS: '*' } }).code).toBe(0);
    fs.mkdirSync(path.join(home, '.config', 'deia'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config', 'deia', 'trusted'), `# shared project\n${root}\n`);
    expect(deia(['status'], { cwd: root, env: { HOME: home } }).code).toBe(0);
  });

  it('never runs scaling.spawn_command from a hive the user does not own, even trusted or named with --dir', () => {
    const root = sharedRoot();
    const proof = path.join(os.tmpdir(), `deia-pwned-${process.pid}-${Date.now()}-2.txt`);
    const dir = plantForeignHive(root, proof);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
    for (const opts of [{ dir }, { cwd: root, env: { HOME: home, DEIA_TRUSTED_DIRS: '*' } }, { env: { DEIA_DIR: root } }]) {
      const r = deia(['scale', '--exec'], opts);
      expect(r.code, JSON.stringify(opts)).toBe(2);
      expect(r.stderr).toMatch(/^deia: refusing to run scaling\.spawn_command: .* is owned by nobody \(uid 65534\), not by you, root \(uid 0\)/);
    }
    expect(fs.existsSync(proof)).toBe(false);
    // Advice alone still answers.
    expect(deia(['scale', '--json'], { dir }).code).toBe(0);
  });

  it('a user running deia under a folder holding root\'s hive is refused too (run as nobody)', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-trust-'));
    fs.chmodSync(root, 0o755);
    expect(deia(['init'], { dir: path.join(root, '.deia') }).code).toBe(0);
    const sub = path.join(root, 'sub');
    fs.mkdirSync(sub, { mode: 0o777 });
    fs.chmodSync(sub, 0o777);
    const r = deiaAsNobody(['status'], sub);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing the hive ${path.join(root, '.deia')}: it is owned by root (uid 0), not by you, nobody (uid ${NOBODY})`);
    expect(deiaAsNobody(['status'], sub, { DEIA_TRUSTED_DIRS: root }).code).toBe(0);
  });
});

describe('finding the right hive', () => {
  it('--dir and DEIA_DIR naming the folder that holds .deia/ use that .deia/ (no second hive)', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-proj-'));
    const dir = path.join(root, '.deia');
    expect(deia(['send', 'BOB', 'hello', '--as', 'ALICE'], { dir }).code).toBe(0);
    expect(deia(['inbox', '--as', 'BOB'], { dir }).code).toBe(0);
    const before = fs.readdirSync(root);
    const viaFlag = deia(['inbox', 'BOB', '--json', '--dir', root]);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).map((m: { content: string }) => m.content)).toEqual(['hello']);
    const viaEnv = deia(['inbox', 'BOB', '--json'], { env: { DEIA_DIR: root } });
    expect(JSON.parse(viaEnv.stdout)).toHaveLength(1);
    expect(fs.readdirSync(root)).toEqual(before);
  });

  it('a reading command on a missing hive names the path and exits 1, creating nothing', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-none-'));
    for (const args of [['status'], ['stats'], ['recommend', 'code'], ['conversation', 'A', 'B'], ['task', 'list'], ['doctor']]) {
      const r = deia(args, { cwd: root });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`hive not found at ${path.join(root, '.deia')}`);
    }
    const named = path.join(root, 'elsewhere');
    const r = deia(['status', '--dir', named]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`hive not found at ${named}`);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('a write with no hive named or found says it is creating one; into a named new folder it is quiet', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-new-'));
    const r = deia(['send', 'BOB', 'hi', '--as', 'A'], { cwd: root });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`creating a new hive at ${path.join(root, '.deia')}`);
    const named = path.join(root, 'x', '.deia');
    const q = deia(['send', 'BOB', 'hi', '--as', 'A', '--dir', named]);
    expect(q.code).toBe(0);
    expect(q.stderr).not.toContain('creating a new hive');
  });

  it('cleanup with no hive (cron from $HOME) names the path and exits 1', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
    const r = deia(['cleanup'], { cwd: home });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^deia: hive not found at ${home}/\\.deia \\(`));
    expect(deia(['cleanup', '--json'], { cwd: home }).code).toBe(1);
  });

  it('health on a missing hive is UNKNOWN, exit 3, "hive not found at <path>", not this machine\'s CPU', () => {
    const nagios = deia(['health', '--nagios', '--dir', '/nonexistent/.deia']);
    expect(nagios.code).toBe(3);
    expect(nagios.stdout).toBe('DEIA HEALTH UNKNOWN - hive not found at /nonexistent/.deia\n');
    const plain = deia(['health', '--dir', '/nonexistent/.deia']);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain('hive not found at /nonexistent/.deia');
    expect(plain.stdout).toBe('health: UNKNOWN (hive not found at /nonexistent/.deia)\n');
    const json = deia(['health', '--json', '--dir', '/nonexistent/.deia']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ level: 'UNKNOWN', reason: 'hive not found at /nonexistent/.deia', components: [], bots: [] });
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
    expect(deia(['health'], { cwd: home }).code).toBe(3);
  });
});
