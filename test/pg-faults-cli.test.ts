/**
 * Faults through the real CLI on PostgreSQL: `deia send` processes while the server crash-restarts
 * (pg_ctl restart -m immediate). Every send that exited 0 is in the inbox exactly once; a send that
 * failed said so in one line; a waiting `inbox --wait` reconnects (and gets mail sent after the
 * restarts) or exits with a one-line error, never hangs. Fails (never skips) without a server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deia, deiaAsync, type CliResult } from './helpers/cli.js';
import { freshDatabase, restartImmediate } from './helpers/pg.js';

let db: { url: string; drop: () => Promise<void> };
beforeAll(async () => {
  db = await freshDatabase();
  expect(deia(['init', '--store', db.url]).code).toBe(0);
});
afterAll(async () => {
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('deia send under two immediate server restarts: every send that exited 0 is there exactly once; inbox --wait reconnects or says why', async () => {
  const store = ['--store', db.url];
  expect(deia(['inbox', '--as', 'B', ...store]).code).toBe(0);
  expect(deia(['inbox', '--as', 'W', ...store]).code).toBe(0);
  const started = Date.now();
  const waiter = deiaAsync(['inbox', '--as', 'W', '--next', '--wait', '90', '--json', ...store]);
  let sending = true;
  const results: CliResult[] = [];
  const sender = async (k: number) => {
    for (let i = 0; sending && i < 40; i++) results.push(await deiaAsync(['send', 'B', `m-${k}-${i}`, '--as', `S${k}`, '--json', ...store]));
  };
  const senders = [0, 1, 2].map(sender);
  await sleep(1500);
  restartImmediate();
  await sleep(1500);
  restartImmediate();
  await sleep(1500);
  sending = false;
  await Promise.all(senders);
  const wake = deia(['send', 'W', 'after the restarts', '--as', 'A', '--json', ...store]);
  expect(wake.code).toBe(0);
  const w = await waiter;
  expect(Date.now() - started).toBeLessThan(85_000); // woke (or gave up), did not sit out its whole --wait
  if (w.code === 0) expect(JSON.parse(w.stdout)).toMatchObject({ content: 'after the restarts', to_bot: 'W' });
  else expect(w.stderr).toMatch(/^deia: [^\n]+\n$/);

  const ok = results.filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout).message_id as string);
  for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toMatch(/^deia: [^\n]+\n$/);
  expect(ok.length).toBeGreaterThan(0);
  const inbox = deia(['inbox', '--as', 'B', '--all', '--json', ...store]);
  expect(inbox.code).toBe(0);
  const ids = (JSON.parse(inbox.stdout) as Array<{ message_id: string }>).map((m) => m.message_id);
  const count = new Map<string, number>();
  for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
  for (const id of ok) expect(count.get(id)).toBe(1);
  console.log(`sends: ${results.length}, exited 0: ${ok.length}, in the inbox: ${ids.length}, waiter exit ${w.code}`, results.filter((x) => x.code !== 0).map((x) => x.stderr.trim()));
}, 180_000);

it('an unreachable server: deia send and inbox --wait exit 1 with one line and a hint, within the reconnect window', async () => {
  const dead = new URL(db.url);
  dead.port = '1'; // nothing listens there
  for (const args of [['send', 'B', 'x', '--as', 'A'], ['inbox', '--as', 'B', '--wait', '30']]) {
    const t = Date.now();
    const r = await deiaAsync([...args, '--store', dead.toString()], { env: { DEIA_PG_RECONNECT_MS: '1500' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^deia: cannot reach PostgreSQL at postgres:\/\/deia:\*\*\*@[^\n]+\(is the server running and the URL right\?[^\n]*\)\n$/);
    expect(Date.now() - t).toBeLessThan(20_000);
  }
});
