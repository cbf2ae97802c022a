import { spawn, type ChildProcess } from 'node:child_process';
import { mainPath } from './cli.js';

/**
 * Start `deia health serve --port 0 --json` and read the URL it prints: on the hive folder
 * `where`, or with the given global options (`['--store', url, '--dir', settings]`).
 */
export function serve(where: string | string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const hive = typeof where === 'string' ? ['--dir', where] : where;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [mainPath(), ...hive, 'health', 'serve', '--port', '0', '--json'], {
      env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '', ...env },
    });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => {
      out += d;
      try {
        resolve({ child: c, url: JSON.parse(out).url });
      } catch {
        // not complete yet
      }
    });
    c.stderr!.on('data', (d) => (err += d));
    c.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}
