/**
 * How the user can run deia from where they stand, for hints that print a command: `deia`
 * when the first `deia` on PATH is this very installation (npm install -g . / npm link),
 * else `node /abs/path/bin/deia.js`, which works from any folder. This reads PATH entries
 * (not the hive), which is why it lives with the CLI rather than in the store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { shellWord } from '../common/parse.js';

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/** The first executable `deia` on PATH, as the shell would find it. */
function onPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env.PATH ?? '').split(path.delimiter)) {
    if (!d) continue;
    const candidate = path.join(d, 'deia');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `deia`, or `node /abs/path/bin/deia.js` when that is not what `deia` would run. */
export function deiaCommand(env: NodeJS.ProcessEnv, main: string): string {
  const mine = realpath(main) ?? path.resolve(main);
  const found = onPath(env);
  if (found && realpath(found) === mine) return 'deia';
  return `node ${shellWord(mine)}`;
}
