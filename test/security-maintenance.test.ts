import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deia, mainPath, snapshotTree, tempHive } from './helpers/cli.js';
import { hasCommand, listCommands, type CommandInfo } from './helpers/surface.js';

const BAD_IDS = ['a/b', '../x', '..', 'a\\b', 'x'.repeat(65), '.hidden', 'a..b', 'a b'];

let commands: CommandInfo[] = [];
beforeAll(() => {
  commands = listCommands();
});

function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(root, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

describe('security', () => {
  it('the library rejects bot ids with separators, "..", NUL or 65+ characters', async () => {
    const lib = await import(process.env.DEIA_TEST_LIB!);
    const { dir } = tempHive();
    const hive = await lib.openHive({ dir });
    for (const bad of [...BAD_IDS, 'a\0b', '\0', 'BOT\0/../../x']) {
      expect(lib.isBotId(bad), JSON.stringify(bad)).toBe(false);
      expect(() => lib.validateBotId(bad)).toThrow(lib.UsageError);
      await expect(hive.register(bad)).rejects.toThrow(/invalid bot id/);
      await expect(lib.openHive({ dir, as: bad })).rejects.toThrow(/invalid identity/);
    }
    expect(lib.isBotId('x'.repeat(64))).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('every command taking a bot id refuses hostile ones with exit 2 and stores nothing', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['register', 'BOT-1'], { dir }).code).toBe(0);
    const templates: Array<[string, (bad: string) => string[]]> = [
      ['register', (b) => ['register', '--', b]],
      ['send', (b) => ['send', '--as', 'BOT-1', '--', b, 'hello']],
      ['send', (b) => ['send', '--as', b, 'BOT-1', 'hello']],
      ['inbox', (b) => ['inbox', '--', b]],
      ['conversation', (b) => ['conversation', 'BOT-1', '--', b]],
      ['record', (b) => ['record', '--', b, 'code', '--success']],
      ['health record', (b) => ['health', 'record', 'cpu', '50', '--bot', b]],
      ['task submit', (b) => ['task', 'submit', 'fix it', '--as', b]],
    ];
    const before = snapshotTree(dir);
    let checked = 0;
    for (const [name, argv] of templates) {
      if (!hasCommand(commands, name)) continue;
      for (const bad of BAD_IDS) {
        const r = deia(argv(bad), { dir });
        expect(r.code, `${name} ${JSON.stringify(bad)}: ${r.stderr}`).toBe(2);
        expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(BAD_IDS.length);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('writes nothing outside the .deia folder (sandbox listing before and after)', () => {
    const { root, dir } = tempHive('deia-sandbox-');
    const home = path.join(root, 'home');
    const tmp = path.join(root, 'tmp');
    fs.mkdirSync(home);
    fs.mkdirSync(tmp);
    const env = { HOME: home, TMPDIR: tmp, DEIA_BOT: 'BOT-1' };
    const run = (argv: string[]) => deia(argv, { cwd: root, env });
    expect(run(['init']).code).toBe(0);
    const before = listing(root).filter((p) => !p.startsWith('.deia'));
    const script: string[][] = [
      ['register', 'BOT-2'],
      ['register', '--', '../../escaped'],
      ['send', 'BOT-2', 'hello ../../x'],
      ['send', '--', '../../../tmp/evil', 'x'],
      ['send', '@all', 'broadcast'],
      ['inbox', 'BOT-2', '--mark-read'],
      ['record', 'BOT-2', 'code', '--success', '--duration', '100'],
      ['health', 'record', 'cpu', '42'],
      ['task', 'submit', 'write the tests'],
      ['cleanup'],
      ['doctor', '--repair'],
      ['--dir', '.deia/../.deia', 'status'],
    ];
    for (const argv of script) {
      if (!hasCommand(commands, argv[0] === '--dir' ? argv[2]! : argv[0]!) && !hasCommand(commands, argv.slice(0, 2).join(' '))) continue;
      run(argv);
    }
    expect(listing(root).filter((p) => !p.startsWith('.deia'))).toEqual(before);
    expect(fs.existsSync(path.join(root, 'escaped'))).toBe(false);
  });

  it('created files and folders are not world-writable, even with umask 000', () => {
    const { dir } = tempHive();
    const main = mainPath();
    const run = (...argv: string[]) =>
      spawnSync('/bin/sh', ['-c', 'umask 000; exec "$@"', 'sh', process.execPath, main, '--dir', dir, ...argv], {
        env: { ...process.env, NO_COLOR: '1', DEIA_BOT: 'BOT-1', DEIA_DIR: '' },
        encoding: 'utf8',
      });
    expect(run('init').status).toBe(0);
    run('register', 'BOT-2');
    if (hasCommand(commands, 'send')) run('send', 'BOT-2', 'hi');
    if (hasCommand(commands, 'inbox')) run('inbox', 'BOT-2', '--mark-read');
    if (hasCommand(commands, 'record')) run('record', 'BOT-2', 'code', '--success');
    if (hasCommand(commands, 'health record')) run('health', 'record', 'cpu', '40');
    if (hasCommand(commands, 'task submit')) run('task', 'submit', 'do it');
    fs.writeFileSync(path.join(dir, 'tasks.jsonl'), 'junk\n', { flag: 'a' });
    fs.chmodSync(path.join(dir, 'tasks.jsonl'), 0o644);
    run('doctor', '--repair');
    run('cleanup');
    const loose = Object.keys(snapshotTree(dir))
      .map((rel) => path.join(dir, rel))
      .concat(fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name)))
      .filter((p) => !p.endsWith('.lock') && (fs.statSync(p).mode & 0o002) !== 0);
    expect(loose).toEqual([]);
    const doc = deia(['doctor', '--json'], { dir });
    expect(JSON.parse(doc.stdout).problems.filter((p: any) => p.kind === 'world_writable')).toEqual([]);
  });

  it('escape sequences in message bodies never reach the terminal', () => {
    if (!hasCommand(commands, 'send') || !hasCommand(commands, 'inbox')) return;
    const { dir } = tempHive();
    deia(['init'], { dir });
    deia(['register', 'BOT-2'], { dir });
    const evil = 'hi\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\r\x1bc';
    const s = deia(['send', '--as', 'BOT-1', 'BOT-2', evil, '--subject', evil], { dir });
    expect(s.code, s.stderr).toBe(0);
    for (const argv of [['inbox', 'BOT-2'], ['inbox', 'BOT-2', '--all'], ['conversation', 'BOT-1', 'BOT-2'], ['status']]) {
      if (!hasCommand(commands, argv[0]!)) continue;
      const r = deia(argv, { dir, env: { FORCE_COLOR: '1' } });
      expect(r.stdout + r.stderr, argv.join(' ')).not.toMatch(/[\x07\x1b\x9b\r\u202e](?!\[[0-9;]*m)/);
      expect(r.stdout, argv.join(' ')).not.toContain('pwned\x07');
    }
    // --json keeps the text exact, escaped by JSON
    const j = deia(['inbox', 'BOT-2', '--all', '--json'], { dir });
    expect(j.stdout).not.toMatch(/\x1b/);
    expect(JSON.parse(j.stdout)[0].content).toBe(evil);
  });

  it('health serve binds loopback by default and answers only GET and HEAD', async () => {
    if (!hasCommand(commands, 'health serve')) return;
    const { dir } = tempHive();
    deia(['init'], { dir });
    const child = spawn(process.execPath, [mainPath(), '--dir', dir, 'health', 'serve', '--port', '0'], {
      env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 15_000);
        const on = (d: Buffer) => {
          out += d;
          const m = /http:\/\/[^\s]+/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[0]);
          }
        };
        child.stdout.on('data', on);
        child.stderr.on('data', on);
      });
      const u = new URL(url);
      expect(u.hostname).toBe('127.0.0.1');
      const base = `http://127.0.0.1:${u.port}`;
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = await fetch(`${base}/health`, { method, body: method === 'DELETE' ? undefined : 'x' });
        expect(r.status, method).toBe(405);
      }
      expect([200, 503]).toContain((await fetch(`${base}/health`)).status);
      expect([200, 503]).toContain((await fetch(`${base}/health`, { method: 'HEAD' })).status);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
