import fs from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Temp files for atomic rewrites. The name is unique per process *and* call:
 * a worker thread shares its pid with the main thread, so pid alone is not enough,
 * and a counter plus random suffix keeps two rewrites in one thread apart.
 * Anything still registered when the process exits is removed, so a failed rewrite
 * leaves no litter; `deia cleanup` removes what a SIGKILL left behind.
 */
let counter = 0;
const live = new Set<string>();
let hooked = false;

export const TEMP_SUFFIX = '.tmp';

// worker_threads is loaded on the first rewrite only: most commands never make a temp file.
let threadIdCache: number | undefined;
function threadId(): number {
  threadIdCache ??= (createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')).threadId;
  return threadIdCache;
}

export function tempNameFor(absPath: string): string {
  const name = `${absPath}.${process.pid}.${threadId()}.${++counter}.${Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0')}${TEMP_SUFFIX}`;
  live.add(name);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const f of live) {
        try {
          fs.unlinkSync(f);
        } catch {
          // already renamed or removed
        }
      }
    });
  }
  return name;
}

/** The temp file was renamed into place or removed: stop tracking it. */
export function releaseTemp(name: string): void {
  live.delete(name);
}

/** pid embedded in a temp name, to tell whether its writer is still alive. */
export function tempOwnerPid(fileName: string): number | undefined {
  const m = /\.(\d+)\.\d+\.\d+\.[0-9a-f]+\.tmp$/.exec(fileName);
  return m ? Number(m[1]) : undefined;
}
