import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA } from '../src/config/index.js';

const SCRIPT = path.resolve('scripts/gen-config-docs.mjs');

describe('docs/configuration.md is generated from the config schema', () => {
  it('is up to date (run `node scripts/gen-config-docs.mjs` after changing src/config)', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('lists every key with its default and description, and --check fails on a stale copy', () => {
    const doc = fs.readFileSync('docs/configuration.md', 'utf8');
    for (const [section, leaves] of Object.entries(SCHEMA)) {
      for (const [key, leaf] of Object.entries(leaves)) {
        expect(leaf.doc.length, `${section}.${key} has a description`).toBeGreaterThan(10);
        expect(doc).toContain(`| \`${section}.${key}\` | \`${JSON.stringify(leaf.default)}\` |`);
      }
    }
    // The check compares against the real file: a copy of the repo with an edited page fails it.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-docs-'));
    fs.cpSync('scripts', path.join(tmp, 'scripts'), { recursive: true });
    fs.cpSync('src', path.join(tmp, 'src'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'docs'));
    fs.writeFileSync(path.join(tmp, 'docs/configuration.md'), doc.replace('`health.cpu_warn` | `70`', '`health.cpu_warn` | `75`'));
    fs.symlinkSync(path.resolve('node_modules'), path.join(tmp, 'node_modules'));
    const r = spawnSync(process.execPath, [path.join(tmp, 'scripts/gen-config-docs.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('docs/configuration.md is out of date');
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
