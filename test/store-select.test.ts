/**
 * Choosing the backend from the CLI: --store, else DEIA_STORE, else store.url in config.json,
 * else the folder; `deia init --store postgres://…` creates the schema. Needs the test
 * PostgreSQL server (fails without it, never skips).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, tempHive } from './helpers/cli.js';
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

  it('deia demo runs on a store only when --store names it (never by DEIA_STORE alone), and never shows the password', async () => {
    const pw = decodeURIComponent(new URL(db.url).password);
    deia(['init', '--store', db.url]);
    const tasksThere = () => JSON.parse(deia(['task', 'list', '--json', '--store', db.url]).stdout).length;
    // DEIA_STORE set, a folder named: the demo's hive is that folder; the store is not touched.
    const inFolder = deia(['demo', '--dir', hive.dir, '--tasks', '4', '--bots', '2', '--interval', '10', '--fast', '--json'], { env: { DEIA_STORE: db.url } });
    expect(inFolder.code, inFolder.stderr).toBe(0);
    expect(JSON.parse(inFolder.stdout)).toMatchObject({ dir: hive.dir, tasks: 4, unfinished: 0 });
    expect(JSON.parse(inFolder.stdout).store).toBeUndefined();
    expect(tasksThere()).toBe(0);
    // The folder holds the demo's work, in the layout a new folder starts in (chosen by its layout.json, no URL named).
    expect(fs.existsSync(path.join(hive.dir, 'layout.json'))).toBe(true);
    expect(JSON.parse(deia(['task', 'list', '--json', '--dir', hive.dir]).stdout)).toHaveLength(4);
    // --store on its command line: bots, tasks and progress go through the store; the bots get
    // the URL by their environment, so no command line shows the password (checked while it runs).
    const running = deiaAsync(['demo', '--store', db.url, '--tasks', '6', '--bots', '2', '--interval', '300', '--fast', '--json']);
    let seen = '';
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 250));
      seen += execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    }
    expect(seen).toContain('demo bot');
    expect(seen.split('\n').filter((l) => l.includes('demo bot') && l.includes(pw))).toEqual([]);
    const onStore = await running;
    expect(onStore.code, onStore.stderr).toBe(0);
    const s = JSON.parse(onStore.stdout);
    expect(s).toMatchObject({ tasks: 6, unfinished: 0, store: expect.stringContaining(':***@') });
    expect(s.done + s.failed).toBe(6);
    expect(tasksThere()).toBe(6);
    expect(onStore.stdout + onStore.stderr).not.toContain(pw);
    fs.rmSync(s.dir, { recursive: true, force: true });
  }, 60_000);

  it('a file:// URL is a folder through the storage interface: its own layout, marked by layout.json; the demo runs there too', () => {
    const url = pathToFileURL(hive.dir).href;
    expect(deia(['init', '--store', url]).code).toBe(0);
    const sent = deia(['send', 'B', 'hi', '--as', 'A', '--store', url, '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(deia(['inbox', 'B', '--next', '--json'], { env: { DEIA_STORE: url } }).stdout)).toMatchObject({ content: 'hi', from_bot: 'A' });
    expect(fs.existsSync(path.join(hive.dir, 'queues', 'inbox.B.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(hive.dir, 'outbox.jsonl'))).toBe(false);
    expect(fs.existsSync(path.join(hive.dir, 'layout.json'))).toBe(true);
    // The demo runs there too, through the same code: its bots' work is in the folder's queues and logs.
    // (A hive of its own: bots A and B here would be given tasks nobody works on.)
    const demoDir = path.join(hive.root, 'demo', '.deia');
    const demoUrl = pathToFileURL(demoDir).href;
    const demo = deia(['demo', '--store', demoUrl, '--tasks', '4', '--bots', '2', '--interval', '10', '--fast', '--json']);
    expect(demo.code, demo.stderr).toBe(0);
    expect(JSON.parse(demo.stdout)).toMatchObject({ tasks: 4, unfinished: 0, store: demoUrl });
    expect(JSON.parse(deia(['task', 'list', '--json', '--dir', demoDir]).stdout)).toHaveLength(4); // a plain --dir: layout.json chooses
    expect(fs.existsSync(path.join(demoDir, 'mailboxes'))).toBe(false);
    fs.rmSync(JSON.parse(demo.stdout).dir, { recursive: true, force: true });
  }, 60_000);

  it('--store wins over DEIA_STORE, and a folder given to --store is the file backend', () => {
    const r = deia(['send', 'B', 'hello', '--as', 'A', '--store', hive.dir, '--json'], { env: { DEIA_STORE: db.url } });
    expect(r.stderr).toMatch(/^deia: warning: B has no inbox yet/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).to_bot).toBe('B');
    // The message is in that folder (a new one: the file backend's layout, marked by layout.json), not in DEIA_STORE's database.
    expect(fs.existsSync(path.join(hive.dir, 'layout.json'))).toBe(true);
    const got = deia(['inbox', 'B', '--next', '--json', '--dir', hive.dir]);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ content: 'hello', from_bot: 'A', to_bot: 'B' });
  });

  it('an unreachable server is one line with a hint, exit 1', () => {
    const r = deia(['init', '--store', 'postgres://deia:topsecret@127.0.0.1:1/hive'], { env: { DEIA_PG_RECONNECT_MS: '500' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^deia: cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@127\.0\.0\.1:1\/hive: .* \(is the server running.*\)\n$/);
    expect(r.stderr).not.toContain('topsecret');
  });
});
