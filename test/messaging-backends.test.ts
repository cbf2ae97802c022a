/**
 * The messaging commands that run on both backends (send, inbox, --next, --wait, --mark-read,
 * read), one suite with three fixtures: a new hive folder named by --dir (the default), a PostgreSQL store
 * (--store) and a folder named by --store file://.
 * The postgres fixture fails (never skips) without a reachable server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';

type Lib = typeof import('../src/index.js');
const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;

interface Fixture {
  where: string;
  args: string[];
  cleanup: () => Promise<void>;
}

const fixtures: Array<{ kind: string; make: () => Promise<Fixture> }> = [
  {
    kind: 'folder',
    make: async () => {
      // A plain new folder named by --dir, nothing planted: what users get by default.
      const h = tempHive();
      return {
        where: h.dir,
        args: ['--dir', h.dir],
        cleanup: async () => {
          // The commands ran it on the storage interface's layout, never on deia 0.1's files.
          const marked = fs.existsSync(path.join(h.dir, 'layout.json'));
          const old = ['mailboxes', 'outbox.jsonl', 'presence'].filter((e) => fs.existsSync(path.join(h.dir, e)));
          fs.rmSync(h.root, { recursive: true, force: true });
          expect(marked).toBe(true);
          expect(old).toEqual([]);
        },
      };
    },
  },
  {
    kind: 'postgres',
    make: async () => {
      const db = await freshDatabase();
      const r = deia(['init', '--store', db.url]);
      if (r.code !== 0) throw new Error(r.stderr);
      return { where: db.url, args: ['--store', db.url], cleanup: db.drop };
    },
  },
  {
    kind: 'file:// (interface)',
    make: async () => {
      const f = freshInterfaceFolder();
      return { where: f.url, args: ['--store', f.url], cleanup: f.drop };
    },
  },
];

describe.each(fixtures)('messaging on the $kind backend', ({ kind, make }) => {
  let fx: Fixture;
  const run = (args: string[], opts: CliOptions = {}) => deia([...fx.args, ...args], opts);
  const runAsync = (args: string[], opts: CliOptions = {}) => deiaAsync([...fx.args, ...args], opts);
  beforeEach(async () => {
    fx = await make();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  async function auditEvents(): Promise<Array<Record<string, unknown>>> {
    const b = await (await lib()).openBackend(fx.where);
    try {
      const out: Array<Record<string, unknown>> = [];
      for await (const line of b.log('bot-messaging').exportLines()) out.push(JSON.parse(line));
      return out;
    } finally {
      await b.close();
    }
  }

  it('mail to a bot without an inbox waits, and is delivered when the bot first looks', async () => {
    const sent = run(['send', 'LATE', 'are you there?', '--as', 'A', '--json']);
    expect(sent.code).toBe(0);
    expect(sent.stderr).toMatch(/LATE has no inbox yet/);
    const m = JSON.parse(sent.stdout);
    expect(m).toMatchObject({ from_bot: 'A', to_bot: 'LATE', content: 'are you there?', priority: 'P2', status: 'pending' });
    const inbox = run(['inbox', '--as', 'LATE', '--json']);
    expect(inbox.code).toBe(0);
    const list = JSON.parse(inbox.stdout);
    expect(list.map((x: { message_id: string }) => x.message_id)).toEqual([m.message_id]);
    expect(list[0]).toMatchObject({ status: 'delivered', read_at: null, ttl_seconds: 3600, retry_count: 0 });
    for (const k of ['message_id', 'from_bot', 'to_bot', 'content', 'priority', 'status', 'created_at', 'delivered_at', 'read_at', 'retry_count', 'max_retries', 'ttl_seconds', 'reply_to', 'metadata']) {
      expect(list[0]).toHaveProperty(k);
    }
    const events = (await auditEvents()).filter((e) => e.message_id === m.message_id).map((e) => e.event);
    expect(events).toEqual(['message_queued', 'message_retry', 'message_delivered']);
  });

  it('inbox: P0 first then oldest; --priority, --limit, --mark-read, --all; read by prefix', () => {
    expect(run(['inbox', '--as', 'B']).code).toBe(0); // B has an inbox now
    const ids = ['P2', 'P3', 'P0', 'P2'].map((p, i) => run(['send', 'B', `m${i}`, '--as', 'A', '-p', p]).stdout.trim());
    const list = JSON.parse(run(['inbox', '--as', 'B', '--json']).stdout);
    expect(list.map((m: { content: string }) => m.content)).toEqual(['m2', 'm0', 'm3', 'm1']);
    expect(JSON.parse(run(['inbox', '--as', 'B', '--json', '--priority', 'P2']).stdout).map((m: { content: string }) => m.content)).toEqual(['m0', 'm3']);
    expect(JSON.parse(run(['inbox', '--as', 'B', '--json', '--limit', '1', '--mark-read']).stdout)[0]).toMatchObject({ content: 'm2', status: 'read' });
    const r = run(['read', ids[1]!.slice(0, 8), '--as', 'B', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ message_id: ids[1], status: 'read' });
    expect(JSON.parse(run(['inbox', '--as', 'B', '--json']).stdout).map((m: { content: string }) => m.content)).toEqual(['m0', 'm3']);
    const all = JSON.parse(run(['inbox', '--as', 'B', '--json', '--all']).stdout);
    expect(all).toHaveLength(4);
    expect(all.filter((m: { status: string }) => m.status === 'read')).toHaveLength(2);
    expect(run(['read', 'zzzz', '--as', 'B']).code).toBe(2);
  });

  it('inbox --next from several processes at once: every message claimed exactly once, each with one message_read line', async () => {
    expect(run(['inbox', '--as', 'SINK']).code).toBe(0);
    const batch = Array.from({ length: 60 }, (_, i) => JSON.stringify({ to: 'SINK', body: `job ${i}`, priority: `P${i % 4}` })).join('\n');
    const sent = JSON.parse(run(['send', '--stdin-jsonl', '--as', 'SRC', '--json'], { input: batch }).stdout).map((m: { message_id: string }) => m.message_id);
    expect(sent).toHaveLength(60);
    const claimers = Array.from({ length: 4 }, async () => {
      const got: string[] = [];
      for (;;) {
        const r = await runAsync(['inbox', '--next', '--json', '--as', 'SINK']);
        if (r.code === 1 && JSON.parse(r.stdout) === null) return got;
        expect(r.code, r.stderr).toBe(0);
        const m = JSON.parse(r.stdout);
        expect(m.status).toBe('read');
        got.push(m.message_id);
      }
    });
    const claimed = (await Promise.all(claimers)).flat();
    expect(claimed).toHaveLength(60);
    expect(new Set(claimed)).toEqual(new Set(sent));
    const reads = (await auditEvents()).filter((e) => e.event === 'message_read').map((e) => e.message_id);
    expect(reads.sort()).toEqual([...sent].sort());
  }, 120_000);

  it('--lease, ack and nack: only the holder of the latest claim settles; a lapsed lease is claimable again with claim_count', async () => {
    expect(run(['inbox', '--as', 'B']).code).toBe(0);
    const id = JSON.parse(run(['send', 'B', 'job', '--as', 'A', '--json']).stdout).message_id as string;
    const c1 = run(['inbox', 'B', '--next', '--lease', '30s', '--as', 'W1', '--json']);
    expect(c1.code).toBe(0);
    expect(JSON.parse(c1.stdout)).toMatchObject({ message_id: id, status: 'delivered', claimed_by: 'W1', claim_count: 1 });
    expect(JSON.parse(c1.stdout).lease_expires_at).toEqual(expect.any(String));
    expect(run(['inbox', 'B', '--next', '--as', 'W2', '--json']).code).toBe(1); // invisible while leased
    const wrong = run(['ack', id.slice(0, 8), '--inbox', 'B', '--as', 'W2']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^deia: message \S+ is held by W1 \(claim 1\), not by W2 \(/);
    expect(run(['nack', id, '--as', 'W1']).code).toBe(0);
    const c2 = JSON.parse(run(['inbox', 'B', '--next', '--lease', '1s', '--as', 'W1', '--json']).stdout);
    expect(c2).toMatchObject({ message_id: id, claimed_by: 'W1', claim_count: 2 });
    await new Promise((r) => setTimeout(r, 1300));
    const c3 = JSON.parse(run(['inbox', 'B', '--next', '--lease', '30s', '--as', 'W1', '--json']).stdout);
    expect(c3).toMatchObject({ message_id: id, claimed_by: 'W1', claim_count: 3 }); // the lapsed lease was claimable again
    const stale = run(['ack', id, '--as', 'W1', '--claim', '2']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/your claim 2 of message \S+ lapsed and it was claimed again \(claim 3\)/);
    const ok = run(['ack', id, '--as', 'W1', '--claim', '3', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject([{ message_id: id, status: 'read', claim_count: 3 }]);
    expect(run(['ack', id, '--as', 'W1']).code).toBe(0); // repeating an ack that succeeded is harmless
    expect(run(['nack', id, '--as', 'W1']).code).toBe(1);
    expect(run(['inbox', 'B', '--next', '--as', 'W2']).code).toBe(1);
    const events = (await auditEvents()).filter((e) => e.message_id === id).map((e) => e.event);
    expect(events).toEqual(['message_queued', 'message_delivered', 'message_claimed', 'message_released', 'message_claimed', 'message_claimed', 'message_acked']);
  });

  it('@all reaches every other bot with an inbox; a repeated --key returns the first send and stores nothing', async () => {
    for (const b of ['A', 'B', 'C']) expect(run(['inbox', '--as', b]).code).toBe(0);
    const all = run(['send', '@all', 'standup in 5', '--as', 'A', '--json']);
    expect(all.code, all.stderr).toBe(0);
    const sent = JSON.parse(all.stdout);
    expect(sent.map((m: Record<string, unknown>) => [m.to_bot, m.status, m.recipient_known])).toEqual([
      ['B', 'delivered', true],
      ['C', 'delivered', true],
    ]);
    const first = run(['send', 'B', 'deploy v2', '--key', 'deploy-42', '--as', 'A', '--json']);
    const again = run(['send', 'B', 'deploy v2', '--key', 'deploy-42', '--as', 'A', '--json']);
    expect(first.code).toBe(0);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).message_id).toBe(JSON.parse(first.stdout).message_id);
    // The same key from another sender is another key.
    const other = run(['send', 'B', 'deploy v2', '--key', 'deploy-42', '--as', 'C', '--json']);
    expect(JSON.parse(other.stdout).message_id).not.toBe(JSON.parse(first.stdout).message_id);
    const inbox = JSON.parse(run(['inbox', '--as', 'B', '--json']).stdout) as Array<Record<string, unknown>>;
    expect(inbox.map((m) => m.content).sort()).toEqual(['deploy v2', 'deploy v2', 'standup in 5']);
    const queued = (await auditEvents()).filter((e) => e.event === 'message_queued');
    expect(queued).toHaveLength(4);
    // Concurrent sends with one key store one message.
    const runs = await Promise.all(Array.from({ length: 4 }, () => runAsync(['send', 'C', 'once', '--key', 'k-race', '--as', 'A', '--json'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(new Set(runs.map((r) => JSON.parse(r.stdout).message_id)).size).toBe(1);
    expect((JSON.parse(run(['inbox', '--as', 'C', '--json']).stdout) as Array<Record<string, unknown>>).filter((m) => m.content === 'once')).toHaveLength(1);
  });

  it('a full inbox (max_inbox_unread) keeps mail pending; inbox --next --wait receives it once the first is claimed', async () => {
    // Settings live in the folder's config.json; a PostgreSQL hive reads them from the folder named by --dir.
    const cfgDir = kind === 'folder' ? fx.where : tempHive().dir;
    expect(deia(['init', '--dir', cfgDir]).code).toBe(0);
    const cfgFile = `${cfgDir}/config.json`;
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    Object.assign(cfg.messaging, { max_inbox_unread: 1, backoff_base_ms: 1000, backoff_cap_ms: 2000 });
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const withCfg = kind === 'folder' ? [] : ['--dir', cfgDir];
    expect(run([...withCfg, 'register', 'Q']).code).toBe(0);
    const first = JSON.parse(run([...withCfg, 'send', 'Q', 'first', '--as', 'A', '--json']).stdout).message_id;
    const r2 = run([...withCfg, 'send', 'Q', 'second', '--as', 'A', '--json']);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toMatch(/Q: recipient inbox is full: message kept pending/);
    const second = JSON.parse(r2.stdout);
    expect(second).toMatchObject({ status: 'pending', last_error: 'recipient inbox is full' });
    expect(JSON.parse(run([...withCfg, 'inbox', '--next', '--json', '--as', 'Q']).stdout).message_id).toBe(first);
    const t = Date.now();
    const w = await runAsync([...withCfg, 'inbox', '--next', '--wait', '15', '--json', '--as', 'Q']);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).message_id).toBe(second.message_id);
    expect(Date.now() - t).toBeLessThan(12_000);
  });

  it('status and conversation: the same JSON on both backends', () => {
    expect(run(['inbox', '--as', 'B']).code).toBe(0);
    const send = (args: string[]) => JSON.parse(run(['send', ...args, '--json']).stdout).message_id as string;
    const m1 = send(['B', 'first', '--as', 'A', '--priority', 'P0']);
    const m2 = send(['B', 'second', '--as', 'A']);
    const m3 = send(['A', 'reply', '--as', 'B']);
    const m4 = send(['NOBODY', 'hello?', '--as', 'A']);
    expect(run(['read', m1, '--as', 'B']).code).toBe(0);
    const st = run(['status', '--json']);
    expect(st.code).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s).toMatchObject({ total: 4, by_status: { pending: 1, delivered: 2, read: 1, failed: 0, expired: 0 }, by_priority: { P0: 1, P1: 0, P2: 3, P3: 0 } });
    expect(s.pending).toEqual([expect.objectContaining({ message_id: m4, to_bot: 'NOBODY', retry_count: 0, last_error: 'recipient has no inbox' })]);
    expect(s.failed).toEqual([]);
    expect(s.bots.map((b: Record<string, unknown>) => [b.bot_id, b.has_inbox, b.inbox_size, b.unread, b.pending_to])).toEqual([
      ['A', true, 1, 1, 0],
      ['B', true, 2, 1, 0],
      ['NOBODY', false, 0, 0, 1],
    ]);
    expect(s.bots[1].unread_by_priority).toEqual({ P0: 0, P1: 0, P2: 1, P3: 0 });
    const conv = run(['conversation', 'B', 'A', '--json']);
    expect(conv.code).toBe(0);
    expect(JSON.parse(conv.stdout).map((m: Record<string, unknown>) => [m.message_id, m.status])).toEqual([
      [m1, 'read'],
      [m2, 'delivered'],
      [m3, 'delivered'],
    ]);
    expect(JSON.parse(run(['conversation', 'A', 'NOBODY', '--json']).stdout)).toEqual([expect.objectContaining({ message_id: m4, status: 'pending' })]);
    expect(run(['status']).stdout).toMatch(/pending deliveries/);
  });

  it('pending mail: retries with retry_count, then failed; TTL expiry; deia deliver; the same audit lines', async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (ms: number): CliOptions => ({ env: { DEIA_NOW: String(t0 + ms) } });
    const ghost = JSON.parse(run(['send', 'GHOST', 'anyone?', '--as', 'A', '--json'], at(0)).stdout).message_id as string;
    const brief = JSON.parse(run(['send', 'BRIEF', 'soon gone', '--as', 'A', '--ttl', '90', '--json'], at(0)).stdout).message_id as string;
    const counts = (ms: number) => {
      const r = run(['deliver', '--json'], at(ms));
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout);
    };
    expect(counts(60_000)).toEqual({ delivered: 0, retried: 2, failed: 0, expired: 0 });
    expect(counts(120_000)).toEqual({ delivered: 0, retried: 1, failed: 0, expired: 1 });
    const mid = JSON.parse(run(['status', '--json'], at(121_000)).stdout);
    expect(mid.pending).toEqual([expect.objectContaining({ message_id: ghost, retry_count: 2, last_error: 'recipient has no inbox' })]);
    expect(mid.failed).toEqual([expect.objectContaining({ message_id: brief, status: 'expired' })]);
    expect(counts(600_000)).toEqual({ delivered: 0, retried: 0, failed: 1, expired: 0 });
    expect(counts(700_000)).toEqual({ delivered: 0, retried: 0, failed: 0, expired: 0 });
    const end = JSON.parse(run(['status', '--json'], at(700_000)).stdout);
    expect(end.pending).toEqual([]);
    expect(end.by_status).toMatchObject({ pending: 0, failed: 1, expired: 1 });
    expect(JSON.parse(run(['conversation', 'A', 'GHOST', '--json'], at(700_000)).stdout)).toEqual([
      expect.objectContaining({ message_id: ghost, status: 'failed', retry_count: 3 }),
    ]);
    // A bot that appears later does not get mail that failed.
    expect(JSON.parse(run(['inbox', '--as', 'GHOST', '--json'], at(800_000)).stdout)).toEqual([]);
    const lines = await auditEvents();
    const of = (id: string) => lines.filter((e) => e.message_id === id).map((e) => [e.event, (e.details as Record<string, unknown> | null)?.retry_count ?? null]);
    expect(of(ghost)).toEqual([['message_queued', null], ['message_retry', 0], ['message_retry', 1], ['message_retry', 2], ['message_failed', 3]]);
    expect(of(brief)).toEqual([['message_queued', null], ['message_retry', 0], ['message_retry', 1], ['message_expired', 1]]);
  });

  it('inbox --wait wakes when another process sends, and exits 1 when nothing came', async () => {
    expect(run(['inbox', '--as', 'W']).code).toBe(0);
    const waiting = runAsync(['inbox', '--as', 'W', '--next', '--wait', '20', '--json']);
    await new Promise((r) => setTimeout(r, 700));
    expect(run(['send', 'W', 'wake up', '--as', 'A']).code).toBe(0);
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ content: 'wake up', status: 'read' });
    const none = run(['inbox', '--as', 'W', '--next', '--wait', '0.3', '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toBeNull();
  });
});
