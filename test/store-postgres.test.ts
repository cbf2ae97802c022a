/**
 * What only the PostgreSQL backend has: a server that can restart under load, connection
 * strings with passwords, libpq's ways of finding a password, migrations, and its driver being
 * loaded only when chosen. Needs the test server (global setup or DEIA_TEST_PG_URL): without it
 * these tests fail, they do not skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mainPath, tempHive } from './helpers/cli.js';
import { freshDatabase, restartImmediate } from './helpers/pg.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const WORKER = path.resolve('test/fixtures/backend-worker.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function worker(args: string[], env: Record<string, string | undefined> = {}) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  const child = spawn(process.execPath, [WORKER, ...args], { env: e });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { done, lines, child };
}

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function sql<R>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as R[];
  } finally {
    await c.end();
  }
}

describe('postgres backend', () => {
  let db: { url: string; drop: () => Promise<void> };
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('migrations: an empty database is refused with a hint, init is re-runnable and safe to run from several processes at once', async () => {
    const { openBackend } = await lib();
    await expect(openBackend(db.url)).rejects.toMatchObject({ code: 'ESTORESCHEMA', hint: expect.stringContaining('deia init --store') });
    const runs = Array.from({ length: 3 }, () =>
      spawnSync(process.execPath, ['--input-type=module', '-e', `const { openBackend } = await import(process.env.DEIA_TEST_LIB); const b = await openBackend(process.argv[1], { migrate: true }); await b.close();`, db.url], { encoding: 'utf8' }),
    );
    for (const r of runs) expect(r.stderr).toBe('');
    const rows = await sql<{ version: number }>(db.url, 'SELECT version FROM deia_schema_migrations');
    expect(rows).toEqual([{ version: 1 }]);
    const b = await openBackend(db.url, { migrate: true });
    await b.close();
    const b2 = await openBackend(db.url);
    expect(b2.kind).toBe('postgres');
    await b2.close();
  });

  it('every claim is recorded in the audit table by the same statement', async () => {
    const { openBackend } = await lib();
    const b = await openBackend(db.url, { migrate: true });
    await b.queues.enqueue('q', Array.from({ length: 300 }, (_, i) => ({ id: `i${i}`, priority: i % 3, payload: i })));
    await b.close();
    const runs = Array.from({ length: 4 }, (_, k) => worker(['claim', db.url, 'q', `c${k}`]));
    const claimed = (await Promise.all(runs.map((w) => w.done))).flatMap((r) => r.stdout.split('\n').filter(Boolean));
    expect(new Set(claimed).size).toBe(300);
    const ev = await sql<{ id: string; n: string }>(db.url, "SELECT id, count(*) AS n FROM deia_queue_events WHERE event = 'claim' GROUP BY id");
    expect(ev.length).toBe(300);
    expect(ev.every((r) => r.n === '1')).toBe(true);
  });

  it('a server restart (-m immediate) under senders: every acknowledged enqueue is there exactly once; a waiter reconnects or exits with a clear error', async () => {
    const { openBackend } = await lib();
    (await openBackend(db.url, { migrate: true })).close();
    const env = { DEIA_TEST_RECONNECT_MS: '15000' };
    const waiter = worker(['wait', db.url, 'after-restart', '40000'], env);
    const senders = Array.from({ length: 3 }, (_, k) => worker(['send', db.url, 'load', `s${k}`, '400'], env));
    await until(() => waiter.lines.includes('ready') && senders.every((s) => s.lines.length >= 50));
    restartImmediate();
    await until(() => senders.every((s) => s.lines.length >= 150));
    restartImmediate();
    const results = await Promise.all(senders.map((s) => s.done));
    for (const r of results) expect(r.code).toBe(0);
    const acked = results.flatMap((r) => r.stdout.split('\n').filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)));
    expect(acked.length).toBe(1200);
    const rows = await sql<{ id: string }>(db.url, "SELECT id FROM deia_queue_items WHERE queue = 'load'");
    const stored = rows.map((r) => r.id);
    expect(new Set(stored).size).toBe(stored.length);
    for (const id of acked) expect(stored).toContain(id);
    // The waiter was waiting through both restarts; an item now must reach it (or it must have said why not).
    const b = await openBackend(db.url);
    await b.queues.enqueue('after-restart', [{ id: 'wake', priority: 1, payload: null }]);
    await b.close();
    const w = await waiter.done;
    if (w.code === 0) expect(waiter.lines.some((l) => l.startsWith('got wake '))).toBe(true);
    else expect(w.stderr).toMatch(/^deia: (cannot reach|lost).*PostgreSQL.*\n$/);
  }, 120_000);

  it('a password never appears in errors or locations; a wrong one is a one-line login error', async () => {
    const { openBackend, redactUrl } = await lib();
    const u = new URL(db.url);
    const secret = 'not-the-Password-42';
    u.password = secret;
    const err = await openBackend(u.toString()).then(
      () => undefined,
      (e: Error & { code: string; hint: string }) => e,
    );
    expect(err).toBeDefined();
    expect(err!.code).toBe('ESTOREAUTH');
    expect(err!.message).not.toContain(secret);
    expect(err!.hint).toContain('PGPASSWORD');
    expect(err!.message).toContain('***');
    expect(redactUrl(`postgres://bob:${secret}@db.example:5432/hive?sslmode=require`)).toBe('postgres://bob:***@db.example:5432/hive?sslmode=require');
    expect(redactUrl(`postgres://bob@db.example/hive?password=${secret}`)).not.toContain(secret);
  });

  it('an unreachable server is a one-line error naming it (without password) after the reconnect window, never a hang', async () => {
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const url = `postgres://deia:sekrit-pw@127.0.0.1:${port}/hive`;
    const t0 = Date.now();
    const r = await worker(['open', url], { DEIA_TEST_RECONNECT_MS: '1000' }).done;
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^deia: cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@127\.0\.0\.1:\d+\/hive: .*\(.*\)\n$/);
    expect(r.stderr).not.toContain('sekrit-pw');
  });

  it('PGPASSWORD and ~/.pgpass supply the password as libpq does', async () => {
    const u = new URL(db.url);
    const pw = decodeURIComponent(u.password);
    u.password = '';
    const bare = u.toString();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-pgpass-'));
    try {
      const noPw = await worker(['open', bare], { PGPASSWORD: undefined, HOME: home, PGPASSFILE: undefined }).done;
      expect(noPw.code).toBe(1);
      expect(noPw.stderr).toMatch(/^deia: .*PostgreSQL/);
      // The schema is missing (ESTORESCHEMA) but the login worked: that error proves the password was taken.
      const withEnv = await worker(['open', bare], { PGPASSWORD: pw, HOME: home }).done;
      expect(withEnv.stderr).toMatch(/no deia schema/);
      fs.writeFileSync(path.join(home, '.pgpass'), `${u.hostname}:${u.port}:*:${u.username}:${pw}\n`, { mode: 0o600 });
      const withFile = await worker(['open', bare], { PGPASSWORD: undefined, HOME: home, PGPASSFILE: undefined }).done;
      expect(withFile.stderr).toMatch(/no deia schema/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('sslmode in the URL is honoured: require fails clearly against a server without TLS, disable connects', async () => {
    const { openBackend } = await lib();
    (await openBackend(db.url, { migrate: true })).close();
    const req = await worker(['open', `${db.url}?sslmode=require`]).done;
    expect(req.code).toBe(1);
    expect(req.stderr).toMatch(/^deia: .*PostgreSQL.*SSL/i);
    const off = await worker(['open', `${db.url}?sslmode=disable`]).done;
    expect(off.stderr).toBe('');
    expect(off.code).toBe(0);
  });
});

describe('the PostgreSQL driver is loaded only when chosen', () => {
  it('a file-backend command never loads it', () => {
    const driver = path.join(path.dirname(mainPath()), 'pg.cjs');
    expect(fs.existsSync(driver)).toBe(true);
    const h = tempHive();
    const probe = path.join(h.root, 'probe.cjs');
    fs.writeFileSync(probe, `process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));\n`);
    try {
      for (const args of [['send', 'B', 'hi', '--as', 'A'], ['inbox', 'B', '--next', '--json'], ['status']]) {
        const r = spawnSync(process.execPath, ['--require', probe, mainPath(), '--dir', h.dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '' } });
        expect(r.status).toBe(0);
        const loaded = JSON.parse(/LOADED (.*)/.exec(r.stderr)![1]!) as string[];
        expect(loaded).toContain(mainPath());
        expect(loaded.filter((f) => f.includes('pg'))).toEqual([]);
      }
      // The control: the library's postgres backend does load it.
      const r = spawnSync(process.execPath, ['--require', probe, '-e', `require(${JSON.stringify(driver)})`], { encoding: 'utf8' });
      expect(r.stderr).toContain('pg.cjs');
    } finally {
      fs.rmSync(h.root, { recursive: true, force: true });
    }
  });
});
