/**
 * `deia export`: the hive's three audit logs as JSONL files, from either backend, so an operator
 * can archive them or diff two hives. Each file holds, oldest first, what retention archived,
 * then (in a folder) the generations `deia cleanup` rotated away (NAME.N.jsonl, highest N
 * first), then the live log: the lines exactly as the folder writes them. A log a backend has
 * not written yet is an empty file (on PostgreSQL the logs of the same names: bot-messaging,
 * adaptive-scheduling and health-alerts, src/health/records.ts).
 */
import path from 'node:path';
import { DeiaError, UsageError } from '../common/errors.js';
import { AUDIT_LOGS } from '../common/files.js';
import type { HiveContext } from '../hive.js';
import { onStore } from '../messaging/records.js';
import { ensureOutsideDir, lstatOrUndefined, OutsideFile, realPathLoose } from '../store/outside.js';
import type { StorageBackend } from '../store/types.js';
import { rotatedFiles } from '../store/file/generations.js';

export interface ExportOptions {
  /** The folder to write into (created when missing). */
  out: string;
  /** Replace files of the same names already there. */
  force?: boolean;
}

export interface ExportedLog {
  /** `bot-messaging`, `adaptive-scheduling` or `health-alerts`. */
  log: string;
  /** The file written (absolute). */
  file: string;
  /** Lines written, archived ones included. */
  lines: number;
  /** Of those, lines that retention or rotation had moved out of the live log. */
  archived_lines: number;
  bytes: number;
}

export interface ExportResult {
  backend: 'file' | 'postgres';
  /** Where the hive lives (a connection string's password replaced by `***`). */
  store: string;
  out: string;
  logs: ExportedLog[];
  /** Lines written over all three files. */
  lines: number;
}

/** The logs' names on the storage interface: the file names without `.jsonl`. */
export const EXPORTED_LOGS = AUDIT_LOGS.map((f) => f.replace(/\.jsonl$/, ''));

/** A folder log rotated under a running export is read again, this many times at most. */
const ROTATION_ATTEMPTS = 3;

export async function exportAuditLogs(ctx: HiveContext, opts: ExportOptions): Promise<ExportResult> {
  const out = path.resolve(opts.out);
  refuseHiveFolder(ctx, out);
  const targets = EXPORTED_LOGS.map((log) => ({ log, file: path.join(out, `${log}.jsonl`) }));
  const force = Boolean(opts.force);
  if (!force) {
    const there = targets.filter((t) => lstatOrUndefined(t.file) !== undefined).map((t) => t.file);
    if (there.length) throw exists(there);
  }
  return onStore(ctx, async (b) => {
    ensureOutsideDir(out);
    const done: Array<{ file: OutsideFile; log: ExportedLog }> = [];
    try {
      for (const t of targets) done.push(await exportLog(ctx, b, t.log, t.file));
      // Only now, with every file complete, do they get their names: a failure above leaves none.
      for (const d of done) placeOne(d.file, force);
    } catch (e) {
      for (const d of done) await d.file.discard();
      throw e;
    }
    const logs = done.map((d) => d.log);
    return { backend: b.kind, store: b.location, out, logs, lines: logs.reduce((n, l) => n + l.lines, 0) };
  });
}

/** Writing the export into the hive folder would put files among (or over) the hive's own. */
function refuseHiveFolder(ctx: HiveContext, out: string): void {
  const hive = realPathLoose(ctx.dir);
  const real = realPathLoose(out);
  if (real === hive || real.startsWith(hive + path.sep)) {
    throw new UsageError(`refusing to export into the hive folder ${ctx.dir}`, 'choose an --out folder outside it');
  }
}

function exists(files: readonly string[]): DeiaError {
  return new DeiaError(`refusing to overwrite ${files.join(', ')}`, 'pass --force to replace them, or choose another --out folder', 1, 'EEXIST');
}

function placeOne(file: OutsideFile, force: boolean): void {
  try {
    file.place(force);
  } catch (e) {
    // Made by someone else since the check above.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists([file.target]);
    throw e;
  }
}

async function exportLog(ctx: HiveContext, b: StorageBackend, log: string, target: string): Promise<{ file: OutsideFile; log: ExportedLog }> {
  for (let attempt = 1; ; attempt++) {
    const file = await OutsideFile.create(target);
    try {
      const before = liveIdentity(ctx, b, log);
      const counts = await writeLog(ctx, b, log, file);
      if (liveIdentity(ctx, b, log) === before) {
        await file.finish();
        return { file, log: { log, file: target, ...counts, bytes: file.bytes } };
      }
      if (attempt >= ROTATION_ATTEMPTS) {
        throw new DeiaError(`${log} was rotated while being exported (${attempt} times)`, 'run deia export again, between two runs of deia cleanup');
      }
    } catch (e) {
      await file.discard();
      throw e;
    }
    await file.discard();
  }
}

/**
 * Which file is the live log now (its inode; '' when there is none). Rotation renames it to
 * NAME.1.jsonl, so a change between start and end means the generations read may be stale.
 * PostgreSQL has no rotation: retention moves rows one by one, in the order read here.
 */
function liveIdentity(ctx: HiveContext, b: StorageBackend, log: string): string {
  return b.kind === 'file' ? ctx.store.stamp(`${log}.jsonl`).split(':')[0]! : '';
}

async function writeLog(ctx: HiveContext, b: StorageBackend, log: string, file: OutsideFile): Promise<{ lines: number; archived_lines: number }> {
  let archived = 0;
  for await (const r of b.log(log).streamArchive()) {
    await file.write(JSON.stringify(r) + '\n');
    archived++;
  }
  let lines = archived;
  // In a folder (either layout) the log's rotated generations come first, oldest first, then the
  // live log (the file backend's log whole); read as every reader does: a torn or corrupt line is
  // skipped and reported on stderr.
  const l = b.log(log);
  const parts = l.exportParts?.() ?? tagLive(l.exportLines());
  for await (const p of parts) {
    await file.write(p.line);
    lines++;
    if (p.rotated) archived++;
  }
  return { lines, archived_lines: archived };
}

async function* tagLive(lines: AsyncIterable<string>): AsyncIterable<{ line: string; rotated: boolean }> {
  for await (const line of lines) yield { line, rotated: false };
}

/** A folder's log as it stands, oldest first: its rotated generations, then the live log. */
export async function* folderLogRecords(ctx: HiveContext, log: string): AsyncIterable<object> {
  for (const rel of [...rotatedFiles(ctx.store, log), `${log}.jsonl`]) {
    for await (const { record } of ctx.store.stream<object>(rel)) yield record;
  }
}
