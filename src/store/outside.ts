/**
 * Files outside the hive that deia edits on the user's request: harness hook settings
 * (`.claude/settings.json`, `.cursor/hooks.json`, ...) and agent docs (AGENTS.md). Whole-file
 * reads and atomic replacements (temp + fsync + rename), so a crash never leaves half a
 * settings file; the file's mode is kept.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The file's text, or undefined when it does not exist. */
export function readOutside(abs: string): string | undefined {
  try {
    return fs.readFileSync(abs, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Replace (or create) a file atomically, creating its folder; keeps an existing file's mode. */
export function writeOutside(abs: string, text: string): void {
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  let mode = 0o644;
  try {
    mode = fs.statSync(abs).mode & 0o777;
  } catch {
    // new file
  }
  const tmp = `${abs}.deia-${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, abs);
}

/** Remove a file deia created; then its folder too if that is left empty (and was made for it). */
export function removeOutside(abs: string, opts: { pruneDir?: boolean } = {}): void {
  fs.rmSync(abs, { force: true });
  if (opts.pruneDir) {
    try {
      fs.rmdirSync(path.dirname(abs));
    } catch {
      // not empty, or not ours to remove
    }
  }
}

/** First executable named `name` on PATH (absolute), or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const abs = path.join(dir, name);
    try {
      fs.accessSync(abs, fs.constants.X_OK);
      if (fs.statSync(abs).isFile()) return abs;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Append a line to a file a harness gave us (Claude Code's CLAUDE_ENV_FILE). */
export function appendOutside(abs: string, text: string): void {
  fs.appendFileSync(abs, text);
}
