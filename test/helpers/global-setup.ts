import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Build the CLI and the library once per test run into a private folder, so tests exercise
 * the real bundles (as users run them) and parallel runs never see each other's half-written
 * dist/. The folder sits under node_modules/ so the library's external imports resolve.
 *
 * PostgreSQL for the tests of the postgres backend: DEIA_TEST_PG_URL when set (CI starts a
 * server in .ci/run), else a throwaway server started here with scripts/pg-throwaway.sh and
 * stopped at the end. When none can be started, the reason goes to DEIA_TEST_PG_ERROR and every
 * test that needs PostgreSQL fails with it (they never skip).
 */
export default function setup() {
  const base = path.resolve('node_modules/.cache');
  fs.mkdirSync(base, { recursive: true });
  const out = fs.mkdtempSync(path.join(base, 'deia-test-build-'));
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', out, '--no-types'], { stdio: 'inherit' });
  process.env.DEIA_TEST_MAIN = path.join(out, 'cli/main.cjs');
  process.env.DEIA_TEST_LIB = path.join(out, 'lib/index.mjs');
  const stopPg = startPostgres();
  return () => {
    stopPg();
    fs.rmSync(out, { recursive: true, force: true });
  };
}

function startPostgres(): () => void {
  if (process.env.DEIA_TEST_PG_URL || process.env.DEIA_TEST_PG_ERROR) return () => undefined;
  try {
    const text = execFileSync('bash', ['scripts/pg-throwaway.sh', 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const m of text.matchAll(/^export (\w+)='([^']*)'$/gm)) process.env[m[1]!] = m[2]!;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    process.env.DEIA_TEST_PG_ERROR = (err.stderr || err.message).trim().split('\n').slice(-3).join(' / ');
    return () => undefined;
  }
  const dir = process.env.DEIA_TEST_PG_DIR!;
  return () => {
    try {
      execFileSync('bash', ['scripts/pg-throwaway.sh', 'stop', dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
}
