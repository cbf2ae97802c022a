import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config/index.js';
import { backoffMs, decideAttempt, suggestBot } from '../src/messaging/rules.js';
import { readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { lib } from './helpers/logs.js';

/**
 * The messaging rules through the library (openHive, injected clock, ids and randomness) on a
 * hive folder in the default layout (the storage interface's): every handle opened on the
 * folder runs the same code a command does.
 */
const T0 = Date.parse('2030-01-01T00:00:00Z');

async function hive(as = 'BOT-001', config?: Record<string, unknown>) {
  const { dir } = tempHive('deia-msg-');
  if (config) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  const clock = { now: T0 };
  const { openHive, sequentialIds } = await lib();
  const ids = sequentialIds('m');
  const make = (who: string | null = as) => openHive({ dir, as: who ?? undefined, clock: () => clock.now, ids, random: () => 0.5, env: {}, warn: () => undefined });
  return { dir, clock, h: await make(), as: make };
}

const auditOf = (dir: string) => readJsonl(path.join(dir, 'bot-messaging.jsonl'));

describe('messaging rules (injected clock)', () => {
  it('orders the inbox P0 first, then oldest first', async () => {
    const { clock, h } = await hive();
    await h.register('BOT-002');
    const send = async (body: string, priority: 'P0' | 'P1' | 'P2' | 'P3') => {
      clock.now += 1000;
      await h.sendMany([{ to: 'BOT-002', body, priority }]);
    };
    await send('p2 old', 'P2');
    await send('p3', 'P3');
    await send('p1', 'P1');
    await send('p2 new', 'P2');
    await send('p0 last', 'P0');
    const list = await h.inbox({ bot: 'BOT-002' });
    expect(list.map((m) => m.content)).toEqual(['p0 last', 'p1', 'p2 old', 'p2 new', 'p3']);
    expect((await h.inbox({ bot: 'BOT-002', priority: 'P2' })).map((m) => m.content)).toEqual(['p2 old', 'p2 new']);
    expect((await h.inbox({ bot: 'BOT-002', limit: 2 })).map((m) => m.content)).toEqual(['p0 last', 'p1']);
    const claimed = await h.inbox({ bot: 'BOT-002', next: true });
    expect(claimed?.content).toBe('p0 last');
    expect(claimed?.status).toBe('read');
    expect((await h.inbox({ bot: 'BOT-002' })).map((m) => m.content)).toEqual(['p1', 'p2 old', 'p2 new', 'p3']);
    expect((await h.inbox({ bot: 'BOT-002', all: true })).length).toBe(5);
    // Unread urgent mail (P0 + P1, what routing counts as load): p1 only, p0 was claimed.
    const b2 = (await h.messagingStatus()).bots.find((b) => b.bot_id === 'BOT-002')!;
    expect(b2.unread_by_priority).toEqual({ P0: 0, P1: 1, P2: 2, P3: 1 });
  });

  it('retries mail to an unknown bot with growing delays, then fails it after max_retries', async () => {
    const { dir, clock, h } = await hive();
    const [m] = await h.sendMany([{ to: 'GHOST', body: 'anyone?' }]);
    expect(m!.status).toBe('pending');
    const delays: number[] = [];
    let last = clock.now;
    for (let i = 0; i < 10; i++) {
      const st = await h.messagingStatus();
      const p = st.pending[0];
      if (!p) break;
      const at = Date.parse(p.next_attempt_at!);
      delays.push(at - last);
      // Not due yet: nothing happens.
      clock.now = at - 1;
      expect(await h.deliver()).toEqual({ delivered: 0, retried: 0, failed: 0, expired: 0 });
      clock.now = at;
      last = at;
      await h.deliver();
    }
    expect(delays).toHaveLength(3); // delays before retries 1..3; retry 3 failing fails the message
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);
    const st = await h.messagingStatus();
    expect(st.by_status.failed).toBe(1);
    expect(st.failed[0]).toMatchObject({ message_id: m!.message_id, status: 'failed', last_error: 'recipient has no inbox' });
    const events = auditOf(dir).filter((e) => e.message_id === m!.message_id).map((e) => e.event);
    expect(events).toEqual(['message_queued', 'message_retry', 'message_retry', 'message_retry', 'message_failed']);
    expect((await h.conversation('BOT-001', 'GHOST')).map((x) => x.status)).toEqual(['failed']);
    // Registering later does not resurrect a failed message.
    await h.register('GHOST');
    expect(await h.inbox({ bot: 'GHOST' })).toEqual([]);
  });

  it('delivers pending mail as soon as the recipient gets an inbox', async () => {
    const { clock, h, as } = await hive();
    const [m] = await h.sendMany([{ to: 'LATE', body: 'waiting for you', priority: 'P1' }]);
    clock.now += 60_000;
    await h.deliver(); // one retry fails
    expect((await h.messagingStatus()).pending[0]!.retry_count).toBe(1);
    clock.now += 1000;
    await (await as('LATE')).register('LATE');
    const inbox = await h.inbox({ bot: 'LATE' });
    expect(inbox.map((x) => x.message_id)).toEqual([m!.message_id]);
    expect(inbox[0]).toMatchObject({ status: 'delivered', retry_count: 1 });
    expect((await h.messagingStatus()).pending).toEqual([]);
    // Delivery is idempotent: a second pass finds nothing to do and does not duplicate.
    clock.now += 3_600_000;
    await h.deliver();
    await (await as('LATE')).register('LATE');
    expect((await h.inbox({ bot: 'LATE', all: true })).length).toBe(1);
  });

  it('expires a message not delivered within its TTL, and never delivers it', async () => {
    const { dir, clock, h } = await hive();
    const [m] = await h.sendMany([{ to: 'SLOW', body: 'short-lived', ttl: 2 }]);
    clock.now += 2000;
    expect(await h.deliver()).toMatchObject({ expired: 1, delivered: 0 });
    await h.register('SLOW');
    expect(await h.inbox({ bot: 'SLOW' })).toEqual([]);
    expect((await h.messagingStatus()).by_status.expired).toBe(1);
    expect(auditOf(dir).filter((e) => e.message_id === m!.message_id).map((e) => e.event)).toEqual([
      'message_queued',
      'message_retry',
      'message_expired',
    ]);
  });

  it('a delivered message stays until read, whatever its age', async () => {
    const { clock, h } = await hive();
    await h.register('BOT-002');
    await h.sendMany([{ to: 'BOT-002', body: 'old news', ttl: 1 }]);
    clock.now += 30 * 24 * 3_600_000;
    await h.deliver();
    await h.cleanup();
    expect((await h.inbox({ bot: 'BOT-002' })).map((m) => m.content)).toEqual(['old news']);
  });

  it('with --key, a second send stores nothing and returns the first message', async () => {
    const { dir, h, as } = await hive();
    await h.register('BOT-002');
    const [a] = await h.sendMany([{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    const before = snapshotTree(dir);
    const [b] = await h.sendMany([{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    expect(b!.message_id).toBe(a!.message_id);
    expect(snapshotTree(dir)).toEqual(before);
    // Another sender with the same key is a different message.
    await (await as('BOT-003')).sendMany([{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    expect((await h.inbox({ bot: 'BOT-002' })).map((m) => m.from_bot)).toEqual(['BOT-001', 'BOT-003']);
  });

  it('@all sends one copy to every bot with an inbox except the sender', async () => {
    const { h, as } = await hive();
    for (const b of ['A1', 'A2', 'A3']) await h.register(b);
    const sent = await (await as('A1')).sendMany([{ to: '@all', body: 'hello all' }]);
    expect(sent.map((m) => m.to_bot).sort()).toEqual(['A2', 'A3']);
    expect(await h.inbox({ bot: 'A1' })).toEqual([]);
  });

  it('refuses bad input before storing anything', async () => {
    const { dir, h, as } = await hive();
    await h.register('BOT-002');
    const before = snapshotTree(dir);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ to: 'BOT-002', body: 'x', priority: 'P9' }, /unknown priority/],
      [{ to: 'BOT-002', body: 'x', ttl: 0 }, /TTL/],
      [{ to: 'BOT-002', body: 'x', ttl: 1.5 }, /TTL/],
      [{ to: 'BOT-002', body: '   ' }, /empty message body/],
      [{ to: 'BOT-002', body: 'x'.repeat(70_000) }, /over the limit/],
      [{ to: '../etc', body: 'x' }, /invalid recipient/],
    ];
    for (const [input, re] of bad) {
      await expect(h.sendMany([{ to: 'BOT-002', body: 'fine' }, input as never])).rejects.toThrow(re);
    }
    await expect((await as(null)).sendMany([{ to: 'BOT-002', body: 'x' }])).rejects.toThrow(/which bot you are/);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('holds mail back when the inbox is full (back-pressure), then delivers once read', async () => {
    const { clock, h } = await hive('BOT-001', { messaging: { max_inbox_unread: 2 } });
    await h.register('FULL');
    const sent = await h.sendMany([1, 2, 3].map((i) => ({ to: 'FULL', body: `m${i}` })));
    expect(sent.map((m) => m.status)).toEqual(['delivered', 'delivered', 'pending']);
    expect(sent[2]!.last_error).toBe('recipient inbox is full');
    await h.inbox({ bot: 'FULL', next: true });
    clock.now += 10 * 60_000;
    expect(await h.deliver()).toMatchObject({ delivered: 1 });
    expect((await h.inbox({ bot: 'FULL' })).map((m) => m.content)).toEqual(['m2', 'm3']);
  });

  it('read accepts unique prefixes and refuses unknown or ambiguous ones', async () => {
    const { h, as } = await hive();
    await h.register('BOT-002');
    const sent = await h.sendMany([
      { to: 'BOT-002', body: 'a' },
      { to: 'BOT-002', body: 'b' },
    ]);
    const b2 = await as('BOT-002');
    await expect(b2.read(['m-'])).rejects.toThrow(/ambiguous/);
    await expect(b2.read(['zzz'])).rejects.toThrow(/no message/);
    const [r] = await b2.read([sent[1]!.message_id.slice(0, 8)]);
    expect(r).toMatchObject({ message_id: sent[1]!.message_id, status: 'read' });
    expect((await h.inbox({ bot: 'BOT-002' })).map((m) => m.content)).toEqual(['a']);
  });

  it('status, inbox and the audit log agree', async () => {
    const { dir, h } = await hive();
    await h.register('B2');
    await h.sendMany([
      { to: 'B2', body: '1', priority: 'P0' },
      { to: 'B2', body: '2', priority: 'P1' },
      { to: 'B2', body: '3' },
      { to: 'NOBODY', body: '4' },
    ]);
    await h.inbox({ bot: 'B2', next: true });
    const st = await h.messagingStatus();
    const inbox = await h.inbox({ bot: 'B2' });
    const b2 = st.bots.find((b) => b.bot_id === 'B2')!;
    expect(b2.unread).toBe(inbox.length);
    expect(b2.inbox_size).toBe(3);
    expect(st.by_status).toEqual({ pending: 1, delivered: 2, read: 1, failed: 0, expired: 0 });
    expect(st.by_priority).toEqual({ P0: 1, P1: 1, P2: 2, P3: 0 });
    const ev = auditOf(dir);
    const count = (e: string) => ev.filter((x) => x.event === e).length;
    expect(count('message_queued')).toBe(st.total);
    expect(count('message_delivered')).toBe(st.by_status.delivered + st.by_status.read);
    expect(count('message_read')).toBe(st.by_status.read);
    for (const e of ev) {
      expect(Object.keys(e).sort()).toEqual(['details', 'event', 'from_bot', 'message_id', 'priority', 'status', 'timestamp', 'to_bot']);
    }
    expect(st.pending).toHaveLength(1);
  });

  it('compaction drops read messages past retention and keeps the rest', async () => {
    const { dir, clock, h } = await hive('BOT-001', { messaging: { read_retention_hours: 1 } });
    await h.register('B2');
    await h.sendMany([1, 2, 3].map((i) => ({ to: 'B2', body: `m${i}` })));
    await h.inbox({ bot: 'B2', next: true });
    clock.now += 2 * 3_600_000;
    await h.inbox({ bot: 'B2', next: true });
    const dry = snapshotTree(dir);
    expect((await h.cleanup({ dryRun: true })).compaction).toMatchObject({ dropped: 1 });
    expect(snapshotTree(dir)).toEqual(dry);
    expect((await h.inbox({ bot: 'B2', all: true })).map((m) => m.content)).toEqual(['m1', 'm2', 'm3']);
    expect((await h.cleanup()).compaction).toMatchObject({ dropped: 1 });
    const all = await h.inbox({ bot: 'B2', all: true });
    expect(all.map((m) => [m.content, m.status])).toEqual([
      ['m2', 'read'],
      ['m3', 'delivered'],
    ]);
    // Nothing left to drop: a second run changes no file.
    const before = snapshotTree(dir);
    expect((await h.cleanup()).compaction).toMatchObject({ dropped: 0 });
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('backoff grows, is capped, and fails after max_retries', () => {
    const cfg = { ...defaultConfig().messaging, backoff_base_ms: 1000, backoff_cap_ms: 5000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffMs(n, cfg, () => 1))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(0, cfg, () => 0)).toBe(500);
    const m = { retry_count: 2, max_retries: 3, expires_at: new Date(T0 + 1e9).toISOString() } as never;
    expect(decideAttempt(m, T0, 'no inbox', false, cfg, () => 0.5)).toMatchObject({ kind: 'fail', retry_count: 3 });
    expect(suggestBot('BOT-02', ['BOT-002', 'ZED'])).toBe('BOT-002');
    expect(suggestBot('totally-else', ['BOT-002'])).toBeUndefined();
  });
});
