import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  dir?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
}

export function mainPath(): string {
  const p = process.env.DEIA_TEST_MAIN;
  if (!p) throw new Error('DEIA_TEST_MAIN not set: run tests through vitest (global setup builds the CLI)');
  return p;
}

function envFor(opts: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DEIA_BOT: '', AGENT_NAME: '', DEIA_DIR: '', ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

function argsFor(args: string[], opts: CliOptions): string[] {
  return [mainPath(), ...(opts.dir ? ['--dir', opts.dir] : []), ...args];
}

/** Run the built CLI as a real child process and wait for it. */
export function deia(args: string[], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, argsFor(args, opts), {
    env: envFor(opts),
    input: opts.input ?? '',
    cwd: opts.cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the test process: for real concurrency. */
export function deiaAsync(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argsFor(args, opts), { env: envFor(opts), cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A fresh folder with a `.deia` path inside (not yet created). */
export function tempHive(prefix = 'deia-test-'): { root: string; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { root, dir: path.join(root, '.deia') };
}

/** Every file under a folder with its bytes, to prove a failed command changed nothing. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

export function readJsonl(file: string): any[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}
