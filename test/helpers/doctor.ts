/** What the doctor tests of the three backends share: a problem's shape, and a folder doctor's report to compare keys with. */
import fs from 'node:fs';
import { expect } from 'vitest';
import { deia, tempHive } from './cli.js';

export interface DoctorProblem {
  kind: string;
  path: string;
  line?: number;
  age_ms?: number;
  detail: string;
  repaired: boolean;
  action?: string;
}

/** `deia doctor --json` of a new folder hive (exit 0), from a real run. */
export function folderDoctorReport(): Record<string, unknown> {
  const h = tempHive();
  try {
    expect(deia(['init'], { dir: h.dir }).code).toBe(0);
    const r = deia(['doctor', '--json'], { dir: h.dir });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  } finally {
    fs.rmSync(h.root, { recursive: true, force: true });
  }
}
