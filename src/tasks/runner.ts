/**
 * Runs the scaling command templates (`scaling.spawn_command`, `scaling.retire_command`)
 * for `deia scale --exec`. A spawned bot is meant to keep running, so commands start
 * detached; a command that exits within a short grace period reports its exit code.
 */
// Default import: the bundle loads child_process lazily through a proxy that only a property access reaches.
import childProcess from 'node:child_process';

export interface RunResult {
  command: string;
  pid: number | null;
  /** Exit code when the command ended within the grace period; null while still running. */
  exit_code: number | null;
  error: string | null;
}

export function runDetached(command: string, opts: { graceMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const grace = opts.graceMs ?? 300;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: RunResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    let child;
    try {
      child = childProcess.spawn(command, { shell: true, detached: true, stdio: 'ignore', env: opts.env ?? process.env, cwd: opts.cwd });
    } catch (e) {
      done({ command, pid: null, exit_code: null, error: (e as Error).message });
      return;
    }
    const pid = child.pid ?? null;
    child.on('error', (e) => done({ command, pid, exit_code: null, error: e.message }));
    child.on('exit', (code, signal) =>
      done({ command, pid, exit_code: code ?? null, error: signal ? `killed by ${signal}` : null }),
    );
    const timer = setTimeout(() => {
      child.unref();
      done({ command, pid, exit_code: null, error: null });
    }, grace);
    timer.unref();
  });
}
