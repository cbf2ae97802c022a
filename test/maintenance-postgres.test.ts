/**
 * deia cleanup on a PostgreSQL store, through real CLI processes: retention of read mail and of
 * send --key documents by the folder's rules, --dry-run changing nothing. Needs the test
 * PostgreSQL server (fails without it, never skips).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;
const HOUR = 3_600_000;
const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number): CliOptions => ({ env: { DEIA_NOW: String(t0 + ms) } });

describe('deia cleanup on PostgreSQL', () => {
  let db: { url: string; drop: () => Promise<void> };
  const run = (args: string[], opts: CliOptions = {}) => deia(['--store', db.url, ...args], opts);
  const json = (args: string[], opts: CliOptions = {}) => {
    const r = run([...args, '--json'], opts);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  };
  const send = (text: string, ms: number, extra: string[] = []) => json(['send', 'B', text, '--as', 'A', ...extra], at(ms)).message_id as string;
  const inboxIds = (ms: number) => (json(['inbox', '--as', 'B', '--all'], at(ms)) as Array<{ message_id: string }>).map((m) => m.message_id).sort();

  beforeEach(async () => {
    db = await freshDatabase();
    const r = deia(['init', '--store', db.url]);
    if (r.code !== 0) throw new Error(r.stderr);
  });
  afterEach(async () => {
    await db.drop();
  });

  it('forgets read mail and keys past retention, keeps recent and unread mail; --dry-run changes nothing; an old key sends anew', async () => {
    json(['inbox', '--as', 'B'], at(0));
    const oldRead = send('old, read', 0);
    json(['read', oldRead, '--as', 'B'], at(1000));
    const oldUnread = send('old, never read', 2000);
    const keyed = send('once', 3000, ['--key', 'job-1']);
    const recentRead = send('recent, read', 190 * HOUR);
    json(['read', recentRead, '--as', 'B'], at(190 * HOUR));
    const everything = [oldRead, oldUnread, keyed, recentRead].sort();
    expect(inboxIds(190 * HOUR)).toEqual(everything);

    // 200 h later: past the 168 h of read_retention_hours and key_retention_hours for the first messages only.
    const dry = json(['cleanup', '--dry-run'], at(200 * HOUR));
    expect(dry).toMatchObject({ dry_run: true, changed: true, compaction: { dropped: 1 }, key_retention: { dropped: 1, kept: 0 }, rotated: [], locks_removed: [] });
    expect(inboxIds(200 * HOUR)).toEqual(everything);
    expect(send('once', 200 * HOUR, ['--key', 'job-1'])).toBe(keyed); // the key still holds

    const done = json(['cleanup'], at(200 * HOUR));
    expect(done).toMatchObject({ dry_run: false, changed: true, compaction: { dropped: 1 }, key_retention: { dropped: 1 }, errors: [] });
    expect(inboxIds(200 * HOUR)).toEqual([oldUnread, keyed, recentRead].sort());
    const again = send('once', 200 * HOUR, ['--key', 'job-1']);
    expect(again).not.toBe(keyed); // the key was forgotten: the send stored a new message
    expect(json(['cleanup'], at(201 * HOUR))).toMatchObject({ changed: false, compaction: { dropped: 0 }, key_retention: { dropped: 0, kept: 1 } });
    expect(run(['cleanup'], at(201 * HOUR)).stdout).toMatch(/nothing to do/);
    // One cleanup_completed line in the audit log, for the run that changed something.
    const b = await (await lib()).openBackend(db.url);
    try {
      const events: Array<Record<string, any>> = [];
      for await (const line of b.log('bot-messaging').exportLines()) events.push(JSON.parse(line));
      const completed = events.filter((e) => e.event === 'cleanup_completed');
      expect(completed).toHaveLength(1);
      expect(completed[0].details).toMatchObject({ compaction: { dropped: 1 }, key_retention: { dropped: 1 } });
    } finally {
      await b.close();
    }
  });
});
