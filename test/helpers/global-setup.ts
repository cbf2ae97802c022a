import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Build the CLI once per test run into a private folder, so tests exercise the real
 * bundle (as users run it) and parallel runs never see each other's half-written dist/.
 */
export default function setup() {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-test-build-'));
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', out, '--no-types'], { stdio: 'inherit' });
  process.env.DEIA_TEST_MAIN = path.join(out, 'cli/main.js');
  return () => fs.rmSync(out, { recursive: true, force: true });
}
