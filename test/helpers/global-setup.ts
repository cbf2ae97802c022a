import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Build the CLI and the library once per test run into a private folder, so tests exercise
 * the real bundles (as users run them) and parallel runs never see each other's half-written
 * dist/. The folder sits under node_modules/ so the library's external imports resolve.
 */
export default function setup() {
  const base = path.resolve('node_modules/.cache');
  fs.mkdirSync(base, { recursive: true });
  const out = fs.mkdtempSync(path.join(base, 'deia-test-build-'));
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', out, '--no-types'], { stdio: 'inherit' });
  process.env.DEIA_TEST_MAIN = path.join(out, 'cli/main.cjs');
  process.env.DEIA_TEST_LIB = path.join(out, 'lib/index.mjs');
  return () => fs.rmSync(out, { recursive: true, force: true });
}
