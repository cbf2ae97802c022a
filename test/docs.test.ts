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

describe('README and docs/', () => {
  // Written alongside this page by other parts of the work; linked from README's "Read more".
  const COMING = new Set(['docs/routing.md', 'docs/security.md', 'docs/messaging.md', 'docs/agents.md', 'docs/cli.md', 'docs/storage.md']);

  it('every relative link points to a file that exists', () => {
    const pages = ['README.md', ...fs.readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of fs.readFileSync(page, 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const file = path.normalize(path.join(path.dirname(page), target!));
        if (!fs.existsSync(file) && !COMING.has(file)) broken.push(`${page} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('README stays a five-minute page and names the two commands that work on a fresh clone', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    expect(readme.split('\n').length).toBeLessThan(160);
    expect(readme).toContain('npm ci && npx deia demo');
    expect(readme).toMatch(/^npm test\b/m);
    expect(readme).toMatch(/npm install -g \.|npm link/);
  });

  it('docs/commands.md documents every command, and storage.md names exactly those that run on PostgreSQL', async () => {
    const { COMMANDS } = await import('../src/cli/commands/index.js');
    const specs = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).default));
    const commands = fs.readFileSync('docs/commands.md', 'utf8');
    expect(specs.filter((s) => !commands.includes(`\`deia ${s.name}`)).map((s) => s.name)).toEqual([]);
    const storage = fs.readFileSync('docs/storage.md', 'utf8');
    const today = storage.slice(storage.indexOf('### What runs on PostgreSQL today'), storage.indexOf('Any other command, pointed at'));
    expect(today.length).toBeGreaterThan(100);
    const named = new Set([...today.matchAll(/`(?:deia )?([a-z][a-z ]*?)`/g)].map((m) => m[1]!).filter((w) => COMMANDS[w]));
    expect([...named].sort()).toEqual(specs.filter((s) => s.postgres).map((s) => s.name).sort());
  });
});
