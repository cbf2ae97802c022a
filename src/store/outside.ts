/**
 * Files outside the hive that deia edits on the user's request: harness hook settings
 * (`.claude/settings.json`, `.cursor/hooks.json`, ...), agent docs (AGENTS.md), and the files
 * `deia export` writes. Whole-file reads and atomic replacements (temp + fsync + rename), so a
 * crash never leaves half a settings file or half an export; a settings file's mode is kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { releaseTemp, tempNameFor } from './temp.js';

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

/**
 * A new file outside the hive written line by line (an export), then put in place whole: the
 * lines go to a temp file beside the target, created exclusively and never through a link
 * (O_EXCL|O_NOFOLLOW), fsync'd, then renamed (replace) or hard-linked (no clobber) to its name.
 * Either the target is untouched or it holds every line: a reader never sees half an export.
 */
export class OutsideFile {
  private fh: fs.promises.FileHandle | undefined;
  private buf: string[] = [];
  private buffered = 0;
  bytes = 0;

  private constructor(
    readonly target: string,
    private readonly tmp: string,
  ) {}

  static async create(target: string): Promise<OutsideFile> {
    const f = new OutsideFile(target, tempNameFor(target));
    f.fh = await fs.promises.open(f.tmp, NEW_FILE_FLAGS, 0o644);
    return f;
  }

  async write(text: string): Promise<void> {
    this.buf.push(text);
    this.buffered += text.length;
    if (this.buffered >= 1 << 16) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const data = Buffer.from(this.buf.join(''), 'utf8');
    this.buf = [];
    this.buffered = 0;
    await this.fh!.write(data);
    this.bytes += data.length;
  }

  /** Everything written and on disk, not yet under its name. */
  async finish(): Promise<void> {
    await this.flush();
    await this.fh!.sync();
    await this.fh!.close();
    this.fh = undefined;
  }

  /**
   * Give the finished file its name. Without `replace`, a name that exists (a file or a link,
   * even one made meanwhile) is refused with EEXIST: link(2) never replaces. With it, rename(2)
   * replaces the name itself, never what a link there points to.
   */
  place(replace: boolean): void {
    if (replace) fs.renameSync(this.tmp, this.target);
    else {
      try {
        fs.linkSync(this.tmp, this.target);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // File systems without hard links: check, then rename (a narrow race, but never through a link).
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
        if (lstatOrUndefined(this.target)) throw Object.assign(new Error(`${this.target} exists`), { code: 'EEXIST' });
        fs.renameSync(this.tmp, this.target);
      }
      fs.rmSync(this.tmp, { force: true });
    }
    releaseTemp(this.tmp);
    syncDirOf(this.target);
  }

  /** Drop the temp file (an export that failed part way). */
  async discard(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    fs.rmSync(this.tmp, { force: true });
    releaseTemp(this.tmp);
  }
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const NEW_FILE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0);

/** The entry itself (a link is not followed), or undefined when there is none. */
export function lstatOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function syncDirOf(abs: string): void {
  try {
    const fd = fs.openSync(path.dirname(abs), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // best effort: some systems refuse fsync on folders
  }
}

/**
 * A path with its existing part resolved through links (realpath of the nearest folder that
 * exists, then the rest as written): where a write there would really land.
 */
export function realPathLoose(abs: string): string {
  const rest: string[] = [];
  let cur = path.resolve(abs);
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return path.resolve(abs);
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

/** Create a folder (and its parents) for files deia writes outside the hive. */
export function ensureOutsideDir(abs: string): void {
  fs.mkdirSync(abs, { recursive: true, mode: 0o755 });
}
