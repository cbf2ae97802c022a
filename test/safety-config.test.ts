import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

/** Issues 12.3 (config sections named after built-ins) and 12.8 (every number bounded), through the CLI. */
function hiveWithConfig(text: string): string {
  const { dir } = tempHive('deia-cfg-');
  expect(deia(['init'], { dir }).code).toBe(0);
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  return dir;
}

function refused(text: string, what: RegExp): void {
  const dir = hiveWithConfig(text);
  for (const args of [['status'], ['send', 'B', 'hi', '--as', 'A']]) {
    const r = deia(args, { dir });
    expect(r.code, `${text}: ${r.stderr}`).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(what);
  }
  expect(fs.existsSync(path.join(dir, 'outbox.jsonl'))).toBe(false);
}

describe('config.json: unknown keys at every level, own keys only', () => {
  for (const name of ['__proto__', 'toString', 'valueOf', 'constructor', 'hasOwnProperty']) {
    it(`a section named ${name} is an unknown key`, () => {
      refused(`{"${name}": {"x": 1}}`, new RegExp(`unknown key "${name.replace(/_/g, '_')}"`));
    });
    it(`a key named ${name} inside a section is an unknown key`, () => {
      refused(`{"messaging": {"${name}": 1}}`, new RegExp(`unknown key "messaging\\.${name}"`));
    });
  }
  it('"__proto__" does not smuggle values into a section', () => {
    refused('{"messaging": {"__proto__": {"default_ttl_seconds": 1}}}', /unknown key "messaging\.__proto__"/);
  });
});

describe('config.json: every number has an upper bound, named in the error', () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['messaging', 'default_ttl_seconds', 1e15, /"messaging\.default_ttl_seconds" must be an integer >= 1 and <= 31536000 \(got 1000000000000000\)/],
    ['messaging', 'backoff_base_ms', 1e20, /"messaging\.backoff_base_ms" must be an integer >= 1 and <= 86400000/],
    ['messaging', 'backoff_cap_ms', 1e20, /"messaging\.backoff_cap_ms" must be an integer >= 1 and <= 86400000/],
    ['store', 'lock_stale_ms', 1e12, /"store\.lock_stale_ms" must be an integer >= 2000 and <= 600000/],
    ['store', 'lock_max_wait_ms', 1e12, /"store\.lock_max_wait_ms" must be an integer >= 1000 and <= 3600000/],
    ['health', 'staleness_seconds', 1e300, /"health\.staleness_seconds" must be an integer >= 1 and <= 31536000/],
    ['scheduling', 'long_half_life_hours', 1e308, /"scheduling\.long_half_life_hours" must be a number >= 0\.001 and <= 87600/],
    ['messaging', 'default_ttl_seconds', 0, /"messaging\.default_ttl_seconds" must be an integer >= 1 and <=/],
  ];
  for (const [section, key, value, re] of cases) {
    it(`${section}.${key}: ${value}`, () => refused(JSON.stringify({ [section]: { [key]: value } }), re));
  }

  it('the library refuses it the same way', async () => {
    const lib = await import(process.env.DEIA_TEST_LIB!);
    const { dir } = tempHive('deia-cfg-');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), '{"messaging":{"default_ttl_seconds":1e15}}');
    await expect(lib.openHive({ dir })).rejects.toThrow(/default_ttl_seconds" must be an integer >= 1 and <= 31536000/);
  });
});
