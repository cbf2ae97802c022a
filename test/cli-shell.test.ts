import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, snapshotTree, tempHive } from './helpers/cli.js';

describe('command shell', () => {
  it('prints the version from package.json', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const r = deia(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('the bin/ launcher runs the built bundle (with its code cache when present)', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    const { dir } = tempHive();
    const env = { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' };
    const v = spawnSync(process.execPath, ['bin/deia.js', '--version'], { encoding: 'utf8', env });
    expect(v.stdout.trim()).toBe(pkg.version);
    const r = spawnSync(process.execPath, ['bin/deia.js', 'register', 'BOT-1', '--dir', dir, '--json'], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ bot_id: 'BOT-1', created: true });
  });

  it('shows an example in the help of every command', () => {
    const top = deia(['--help']);
    expect(top.code).toBe(0);
    const names = [...top.stdout.matchAll(/^  ([a-z][a-z-]*)\b/gm)].map((m) => m[1]).filter((n) => n !== 'help' && n !== 'deia');
    expect(names.length).toBeGreaterThan(1);
    for (const n of names) {
      const h = deia([n!, '--help']);
      expect(h.code, n).toBe(0);
      expect(h.stdout, n).toMatch(/Examples:\n {2}deia /);
    }
  });

  it('reports an unknown command or option as one line on stderr, exit 2', () => {
    const r = deia(['regster']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^deia: unknown command 'regster'.*register/);
    const o = deia(['register', 'B', '--bogus']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^deia: unknown option '--bogus' \(see `deia register --help`\)\n$/);
  });

  it('rejects bot ids that could escape the folder, and stores nothing', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    const before = snapshotTree(dir);
    for (const bad of ['../../etc', 'a/b', '..', '.hidden', 'x'.repeat(65), '-rf', 'a..b', 'mail.corrupt']) {
      const r = deia(['register', '--', bad], { dir });
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/^deia: invalid bot id/);
      expect(r.stderr).not.toMatch(/\n.+/); // one line, no stack
    }
    expect(snapshotTree(dir)).toEqual(before);
    expect(fs.existsSync(path.join(dir, '..', 'etc'))).toBe(false);
  });

  it('with no command, or a group without its sub-command, is a one-line usage error', () => {
    const r = deia([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deia: missing command (run `deia --help` for the list)\n');
    expect(r.stdout).toBe('');
    const t = deia(['task', '--json']);
    expect(t.code).toBe(2);
    expect(t.stderr).toBe('deia: missing task sub-command (run `deia task --help` for the list)\n');
  });

  it('rejects an invalid identity from DEIA_BOT with exit 2', () => {
    const { dir } = tempHive();
    const r = deia(['register', 'B1'], { dir, env: { DEIA_BOT: '../x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deia: invalid identity/);
  });
});
