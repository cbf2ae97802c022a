import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deia, mainPath } from './cli.js';

/** Write config.json with overrides on top of the defaults written by `deia init`. */
export function configure(dir: string, overrides: Record<string, Record<string, unknown>>): void {
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    const r = deia(['init'], { dir });
    if (r.code !== 0) throw new Error(r.stderr);
  }
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const [sec, kv] of Object.entries(overrides)) cfg[sec] = { ...cfg[sec], ...kv };
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
}

export function json(args: string[], dir: string, env: Record<string, string> = {}): any {
  const r = deia([...args, '--json'], { dir, env });
  if (r.code !== 0) throw new Error(`deia ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A long-running demo bot process (`deia demo bot`), stopped by `stopBots`. */
export function startBot(dir: string, bot: string, profile: { skill: Record<string, number>; speed: Record<string, number> }, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [mainPath(), '--dir', dir, ...extra, 'demo', 'bot', bot, '--profile', JSON.stringify(profile), '--max-seconds', '55'], {
    env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function stopBots(dir: string, bots: ChildProcess[]): Promise<string[]> {
  fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'state', 'demo-stop'), 'stop\n');
  const outs = await Promise.all(
    bots.map(
      (b) =>
        new Promise<string>((resolve) => {
          let out = '';
          b.stdout?.on('data', (d) => (out += d));
          b.stderr?.on('data', (d) => (out += d));
          if (b.exitCode !== null) return resolve(out);
          const t = setTimeout(() => b.kill('SIGKILL'), 10_000);
          b.on('exit', () => {
            clearTimeout(t);
            resolve(out);
          });
        }),
    ),
  );
  fs.rmSync(path.join(dir, 'state', 'demo-stop'), { force: true });
  return outs;
}

