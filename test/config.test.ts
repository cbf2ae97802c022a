import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig, resolveConfig, SCHEMA } from '../src/config/index.js';
import { deia, snapshotTree, tempHive } from './helpers/cli.js';

describe('deia init', () => {
  it('writes every default out, a .gitignore for runtime files, and is idempotent', () => {
    const { dir } = tempHive();
    const r = deia(['init', '--json'], { dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ config_written: true, gitignore_written: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toEqual(defaultConfig());
    expect(cfg.messaging).toMatchObject({ default_ttl_seconds: 3600, max_retries: 3, max_body_bytes: 65536 });
    for (const [section, leaves] of Object.entries(SCHEMA)) {
      for (const key of Object.keys(leaves)) expect(cfg[section], `${section}.${key}`).toHaveProperty(key);
    }
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^\*$/m);

    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ messaging: { max_retries: 5 } }));
    const before = snapshotTree(dir);
    const again = deia(['init', '--json'], { dir });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ already_initialised: true, config_written: false });
    expect(snapshotTree(dir)).toEqual(before);

    const forced = deia(['init', '--force'], { dir });
    expect(forced.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(defaultConfig());
  });

  it('the repository ships exactly what deia init writes', () => {
    const { dir } = tempHive();
    deia(['init'], { dir });
    expect(fs.readFileSync('.deia/config.json', 'utf8')).toBe(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(fs.readFileSync('.deia/.gitignore', 'utf8')).toBe(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'));
  });

  it('--force repairs a config that does not even parse', () => {
    const { dir } = tempHive();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), '{ nope');
    expect(deia(['init'], { dir }).code).toBe(2);
    expect(deia(['init', '--force'], { dir }).code).toBe(0);
  });
});

describe('config.json validation', () => {
  it('fills missing keys with defaults', () => {
    const c = resolveConfig({ messaging: { max_retries: 7 } });
    expect(c.messaging.max_retries).toBe(7);
    expect(c.messaging.default_ttl_seconds).toBe(3600);
  });

  it.each([
    [{ messaging: { max_retries: 'three' } }, /"messaging\.max_retries" must be an integer >= 0 .*got "three"/],
    [{ messaging: { max_retries: 1.5 } }, /"messaging\.max_retries" must be an integer/],
    [{ messaging: { default_ttl_seconds: -1 } }, /"messaging\.default_ttl_seconds" must be an integer >= 1/],
    [{ messaging: { default_priority: 'P9' } }, /"messaging\.default_priority" must be one of P0, P1, P2, P3/],
    [{ messaging: { colour: true } }, /unknown key "messaging\.colour"/],
    [{ mesaging: {} }, /unknown key "mesaging"/],
    [{ messaging: 3 }, /"messaging" must be an object/],
    [[], /must be a JSON object/],
  ])('rejects %j naming the key and the expected type', (raw, msg) => {
    expect(() => resolveConfig(raw)).toThrow(msg);
  });

  it('a bad config is a one-line error, exit 2, and the store is unchanged', () => {
    const { dir } = tempHive();
    deia(['init'], { dir });
    deia(['register', 'BOT-1'], { dir });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ messaging: { max_retries: 'x' } }));
    const before = snapshotTree(dir);
    const r = deia(['register', 'BOT-2'], { dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deia: .*config\.json: "messaging\.max_retries" must be an integer >= 0 and <= 100 \(got "x"\) \(fix .* or run `deia init --force`\)\n$/);
    expect(snapshotTree(dir)).toEqual(before);

    fs.writeFileSync(path.join(dir, 'config.json'), '{"messaging": ');
    const before2 = snapshotTree(dir);
    const r2 = deia(['register', 'BOT-2'], { dir });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^deia: .*config\.json: not valid JSON/);
    expect(r2.stderr.split('\n')).toHaveLength(2);
    expect(snapshotTree(dir)).toEqual(before2);
  });

  it('a missing identity is a usage error that says how to give one', async () => {
    const { requireIdentity, createContext } = await import('../src/hive.js');
    const { dir } = tempHive();
    expect(() => requireIdentity(createContext({ dir, env: {} }), 'send')).toThrow(/send needs to know which bot you are/);
  });
});
