/**
 * Choosing the backend from the CLI: --store, else DEIA_STORE, else store.url in config.json,
 * else the folder; `deia init --store postgres://…` creates the schema. Needs the test
 * PostgreSQL server (fails without it, never skips).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

describe('choosing the store', () => {
  let db: { url: string; drop: () => Promise<void> };
  let hive: { root: string; dir: string };
  beforeEach(async () => {
    db = await freshDatabase();
    hive = tempHive();
  });
  afterEach(async () => {
    await db.drop();
    fs.rmSync(hive.root, { recursive: true, force: true });
  });

  it('deia init --store creates the schema once, says so, and never prints the password', () => {
    const pw = decodeURIComponent(new URL(db.url).password);
    const first = deia(['init', '--store', db.url, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const res = JSON.parse(first.stdout);
    expect(res).toMatchObject({ kind: 'postgres', schema_version: 1, applied: [1], already_initialised: false });
    expect(res.store).toContain('***');
    expect(first.stdout).not.toContain(pw);
    const again = deia(['init'], { env: { DEIA_STORE: db.url } });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/schema is up to date \(version 1\)/);
    expect(again.stdout).not.toContain(pw);
  });

  it('a command not ported (demo, given a --dir) refuses a PostgreSQL store, naming how it was chosen (DEIA_STORE, store.url), without the password', () => {
    const pw = decodeURIComponent(new URL(db.url).password);
    deia(['init', '--store', db.url]);
    const viaEnv = deia(['demo', '--dir', hive.dir], { env: { DEIA_STORE: db.url } });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toMatch(/^deia: deia demo does not run on a PostgreSQL store yet \(chosen by DEIA_STORE: postgres:\/\/deia:\*\*\*@.*\n$/);
    expect(viaEnv.stderr).not.toContain(pw);
    expect(fs.existsSync(hive.dir)).toBe(false); // nothing was written to the folder either
    fs.mkdirSync(hive.dir, { recursive: true });
    fs.writeFileSync(path.join(hive.dir, 'config.json'), JSON.stringify({ store: { url: db.url } }));
    const viaConfig = deia(['demo', '--dir', hive.dir]);
    expect(viaConfig.code).toBe(1);
    expect(viaConfig.stderr).toMatch(/chosen by store\.url/);
    expect(viaConfig.stderr).not.toContain(pw);
  });

  it('a file:// URL is a folder through the storage interface: its own layout, marked by layout.json; demo says it does not run there yet', () => {
    const url = pathToFileURL(hive.dir).href;
    expect(deia(['init', '--store', url]).code).toBe(0);
    const sent = deia(['send', 'B', 'hi', '--as', 'A', '--store', url, '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(deia(['inbox', 'B', '--next', '--json'], { env: { DEIA_STORE: url } }).stdout)).toMatchObject({ content: 'hi', from_bot: 'A' });
    expect(fs.existsSync(path.join(hive.dir, 'queues', 'inbox.B.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(hive.dir, 'outbox.jsonl'))).toBe(false);
    expect(fs.existsSync(path.join(hive.dir, 'layout.json'))).toBe(true);
    const demo = deia(['demo', '--dir', hive.dir, '--store', url]);
    expect(demo.code).toBe(1);
    expect(demo.stderr).toBe(`deia: deia demo does not run on a folder in the storage interface's layout yet (chosen by --store: ${url}) (see docs/storage.md for what runs on that layout)\n`);
  });

  it('--store wins over DEIA_STORE, and a folder given to --store is the file backend', () => {
    const r = deia(['send', 'B', 'hello', '--as', 'A', '--store', hive.dir, '--json'], { env: { DEIA_STORE: db.url } });
    expect(r.stderr).toMatch(/^deia: warning: B has no inbox yet/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).to_bot).toBe('B');
    expect(fs.existsSync(path.join(hive.dir, 'outbox.jsonl'))).toBe(true);
  });

  it('an unreachable server is one line with a hint, exit 1', () => {
    const r = deia(['init', '--store', 'postgres://deia:topsecret@127.0.0.1:1/hive'], { env: { DEIA_PG_RECONNECT_MS: '500' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^deia: cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@127\.0\.0\.1:1\/hive: .* \(is the server running.*\)\n$/);
    expect(r.stderr).not.toContain('topsecret');
  });
});
