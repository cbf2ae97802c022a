import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createContext, type HiveContext } from '../src/hive.js';
import { sequentialIds } from '../src/common/ids.js';
import {
  compactMailboxes,
  conversation,
  deliverDue,
  inboxMessages,
  markRead,
  messagingStatus,
  queueDepth,
  sendMessages,
  urgentUnreadCounts,
} from '../src/messaging/api.js';
import { ensureInbox } from '../src/messaging/ops.js';
import { backoffMs, decideAttempt, suggestBot } from '../src/messaging/rules.js';
import { readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function hive(as = 'BOT-001', config?: Record<string, unknown>) {
  const { dir } = tempHive('deia-msg-');
  if (config) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  const clock = { now: T0 };
  const ids = sequentialIds('m');
  const make = (who: string | null = as): HiveContext =>
    createContext({ dir, as: who ?? undefined, clock: () => clock.now, ids, random: () => 0.5, env: {} });
  return { dir, clock, ctx: make(), as: make };
}

const auditOf = (dir: string) => readJsonl(path.join(dir, 'bot-messaging.jsonl'));

describe('messaging rules (injected clock)', () => {
  it('orders the inbox P0 first, then oldest first', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    const send = async (body: string, priority: 'P0' | 'P1' | 'P2' | 'P3') => {
      h.clock.now += 1000;
      await sendMessages(h.ctx, [{ to: 'BOT-002', body, priority }]);
    };
    await send('p2 old', 'P2');
    await send('p3', 'P3');
    await send('p1', 'P1');
    await send('p2 new', 'P2');
    await send('p0 last', 'P0');
    const list = await inboxMessages(h.ctx, 'BOT-002');
    expect(list.map((m) => m.content)).toEqual(['p0 last', 'p1', 'p2 old', 'p2 new', 'p3']);
    expect((await inboxMessages(h.ctx, 'BOT-002', { priority: 'P2' })).map((m) => m.content)).toEqual(['p2 old', 'p2 new']);
    expect((await inboxMessages(h.ctx, 'BOT-002', { limit: 2 })).map((m) => m.content)).toEqual(['p0 last', 'p1']);
    const claimed = await inboxMessages(h.ctx, 'BOT-002', { next: true });
    expect(claimed?.content).toBe('p0 last');
    expect(claimed?.status).toBe('read');
    expect((await inboxMessages(h.ctx, 'BOT-002')).map((m) => m.content)).toEqual(['p1', 'p2 old', 'p2 new', 'p3']);
    expect((await inboxMessages(h.ctx, 'BOT-002', { all: true })).length).toBe(5);
    expect(urgentUnreadCounts(h.ctx, ['BOT-002'])).toEqual({ 'BOT-002': 1 });
  });

  it('retries mail to an unknown bot with growing delays, then fails it after max_retries', async () => {
    const h = hive();
    const [m] = await sendMessages(h.ctx, [{ to: 'GHOST', body: 'anyone?' }]);
    expect(m!.status).toBe('pending');
    const delays: number[] = [];
    let last = h.clock.now;
    for (let i = 0; i < 10; i++) {
      const st = messagingStatus(h.ctx);
      const p = st.pending[0];
      if (!p) break;
      const at = Date.parse(p.next_attempt_at!);
      delays.push(at - last);
      // Not due yet: nothing happens.
      h.clock.now = at - 1;
      expect(await deliverDue(h.ctx)).toEqual({ delivered: 0, retried: 0, failed: 0, expired: 0 });
      h.clock.now = at;
      last = at;
      await deliverDue(h.ctx);
    }
    expect(delays).toHaveLength(3); // delays before retries 1..3; retry 3 failing fails the message
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);
    const st = messagingStatus(h.ctx);
    expect(st.by_status.failed).toBe(1);
    expect(st.failed[0]).toMatchObject({ message_id: m!.message_id, status: 'failed', last_error: 'recipient has no inbox' });
    const events = auditOf(h.dir).filter((e) => e.message_id === m!.message_id).map((e) => e.event);
    expect(events).toEqual(['message_queued', 'message_retry', 'message_retry', 'message_retry', 'message_failed']);
    expect(conversation(h.ctx, 'BOT-001', 'GHOST').map((x) => x.status)).toEqual(['failed']);
    // Registering later does not resurrect a failed message.
    await ensureInbox(h.ctx, 'GHOST');
    expect(await inboxMessages(h.ctx, 'GHOST')).toEqual([]);
  });

  it('delivers pending mail as soon as the recipient gets an inbox', async () => {
    const h = hive();
    const [m] = await sendMessages(h.ctx, [{ to: 'LATE', body: 'waiting for you', priority: 'P1' }]);
    h.clock.now += 60_000;
    await deliverDue(h.ctx); // one retry fails
    expect(messagingStatus(h.ctx).pending[0]!.retry_count).toBe(1);
    h.clock.now += 1000;
    await ensureInbox(h.as('LATE'), 'LATE');
    const inbox = await inboxMessages(h.ctx, 'LATE');
    expect(inbox.map((x) => x.message_id)).toEqual([m!.message_id]);
    expect(inbox[0]).toMatchObject({ status: 'delivered', retry_count: 1 });
    expect(queueDepth(h.ctx).pending).toBe(0);
    // Delivery is idempotent: a second pass finds nothing to do and does not duplicate.
    h.clock.now += 3_600_000;
    await deliverDue(h.ctx, { bots: ['LATE'] });
    expect((await inboxMessages(h.ctx, 'LATE', { all: true })).length).toBe(1);
  });

  it('expires a message not delivered within its TTL, and never delivers it', async () => {
    const h = hive();
    const [m] = await sendMessages(h.ctx, [{ to: 'SLOW', body: 'short-lived', ttl: 2 }]);
    h.clock.now += 2000;
    expect(await deliverDue(h.ctx)).toMatchObject({ expired: 1, delivered: 0 });
    await ensureInbox(h.ctx, 'SLOW');
    expect(await inboxMessages(h.ctx, 'SLOW')).toEqual([]);
    expect(messagingStatus(h.ctx).by_status.expired).toBe(1);
    expect(auditOf(h.dir).filter((e) => e.message_id === m!.message_id).map((e) => e.event)).toEqual([
      'message_queued',
      'message_retry',
      'message_expired',
    ]);
  });

  it('a delivered message stays until read, whatever its age', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'old news', ttl: 1 }]);
    h.clock.now += 30 * 24 * 3_600_000;
    await deliverDue(h.ctx);
    await compactMailboxes(h.ctx, {});
    expect((await inboxMessages(h.ctx, 'BOT-002')).map((m) => m.content)).toEqual(['old news']);
  });

  it('with --key, a second send stores nothing and returns the first message', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    const [a] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    const before = snapshotTree(h.dir);
    const [b] = await sendMessages(h.ctx, [{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    expect(b!.message_id).toBe(a!.message_id);
    expect(snapshotTree(h.dir)).toEqual(before);
    // Another sender with the same key is a different message.
    await sendMessages(h.as('BOT-003'), [{ to: 'BOT-002', body: 'once', key: 'k1' }]);
    expect((await inboxMessages(h.ctx, 'BOT-002')).map((m) => m.from_bot)).toEqual(['BOT-001', 'BOT-003']);
  });

  it('@all sends one copy to every bot with an inbox except the sender', async () => {
    const h = hive();
    for (const b of ['A1', 'A2', 'A3']) await ensureInbox(h.ctx, b);
    const sent = await sendMessages(h.as('A1'), [{ to: '@all', body: 'hello all' }]);
    expect(sent.map((m) => m.to_bot).sort()).toEqual(['A2', 'A3']);
    expect(await inboxMessages(h.ctx, 'A1')).toEqual([]);
  });

  it('refuses bad input before storing anything', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    const before = snapshotTree(h.dir);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ to: 'BOT-002', body: 'x', priority: 'P9' }, /unknown priority/],
      [{ to: 'BOT-002', body: 'x', ttl: 0 }, /TTL/],
      [{ to: 'BOT-002', body: 'x', ttl: 1.5 }, /TTL/],
      [{ to: 'BOT-002', body: '   ' }, /empty message body/],
      [{ to: 'BOT-002', body: 'x'.repeat(70_000) }, /over the limit/],
      [{ to: '../etc', body: 'x' }, /invalid recipient/],
    ];
    for (const [input, re] of bad) {
      await expect(sendMessages(h.ctx, [{ to: 'BOT-002', body: 'fine' }, input as never])).rejects.toThrow(re);
    }
    await expect(sendMessages(h.as(null), [{ to: 'BOT-002', body: 'x' }])).rejects.toThrow(/which bot you are/);
    expect(snapshotTree(h.dir)).toEqual(before);
  });

  it('holds mail back when the inbox is full (back-pressure), then delivers once read', async () => {
    const h = hive('BOT-001', { messaging: { max_inbox_unread: 2 } });
    await ensureInbox(h.ctx, 'FULL');
    const sent = await sendMessages(h.ctx, [1, 2, 3].map((i) => ({ to: 'FULL', body: `m${i}` })));
    expect(sent.map((m) => m.status)).toEqual(['delivered', 'delivered', 'pending']);
    expect(sent[2]!.last_error).toBe('recipient inbox is full');
    await inboxMessages(h.ctx, 'FULL', { next: true });
    h.clock.now += 10 * 60_000;
    expect(await deliverDue(h.ctx)).toMatchObject({ delivered: 1 });
    expect((await inboxMessages(h.ctx, 'FULL')).map((m) => m.content)).toEqual(['m2', 'm3']);
  });

  it('read accepts unique prefixes and refuses unknown or ambiguous ones', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'BOT-002');
    const sent = await sendMessages(h.ctx, [
      { to: 'BOT-002', body: 'a' },
      { to: 'BOT-002', body: 'b' },
    ]);
    const ctx2 = h.as('BOT-002');
    await expect(markRead(ctx2, ['m-'])).rejects.toThrow(/ambiguous/);
    await expect(markRead(ctx2, ['zzz'])).rejects.toThrow(/no message/);
    const [r] = await markRead(ctx2, [sent[1]!.message_id.slice(0, 8)], 'BOT-002');
    expect(r).toMatchObject({ message_id: sent[1]!.message_id, status: 'read' });
    expect((await inboxMessages(h.ctx, 'BOT-002')).map((m) => m.content)).toEqual(['a']);
  });

  it('status, inbox and the audit log agree', async () => {
    const h = hive();
    await ensureInbox(h.ctx, 'B2');
    await sendMessages(h.ctx, [
      { to: 'B2', body: '1', priority: 'P0' },
      { to: 'B2', body: '2', priority: 'P1' },
      { to: 'B2', body: '3' },
      { to: 'NOBODY', body: '4' },
    ]);
    await inboxMessages(h.ctx, 'B2', { next: true });
    const st = messagingStatus(h.ctx);
    const inbox = await inboxMessages(h.ctx, 'B2');
    const b2 = st.bots.find((b) => b.bot_id === 'B2')!;
    expect(b2.unread).toBe(inbox.length);
    expect(b2.inbox_size).toBe(3);
    expect(st.by_status).toEqual({ pending: 1, delivered: 2, read: 1, failed: 0, expired: 0 });
    expect(st.by_priority).toEqual({ P0: 1, P1: 1, P2: 2, P3: 0 });
    const ev = auditOf(h.dir);
    const count = (e: string) => ev.filter((x) => x.event === e).length;
    expect(count('message_queued')).toBe(st.total);
    expect(count('message_delivered')).toBe(st.by_status.delivered + st.by_status.read);
    expect(count('message_read')).toBe(st.by_status.read);
    for (const e of ev) {
      expect(Object.keys(e).sort()).toEqual(['details', 'event', 'from_bot', 'message_id', 'priority', 'status', 'timestamp', 'to_bot']);
    }
    expect(queueDepth(h.ctx)).toMatchObject({ pending: 1, unread: 2, total: 3 });
  });

  it('compaction drops read messages past retention and keeps the rest', async () => {
    const h = hive('BOT-001', { messaging: { read_retention_hours: 1 } });
    await ensureInbox(h.ctx, 'B2');
    await sendMessages(h.ctx, [1, 2, 3].map((i) => ({ to: 'B2', body: `m${i}` })));
    await inboxMessages(h.ctx, 'B2', { next: true });
    h.clock.now += 2 * 3_600_000;
    await inboxMessages(h.ctx, 'B2', { next: true });
    expect(await compactMailboxes(h.ctx, { dryRun: true })).toEqual({ mailboxes: 1, dropped: 1, kept: 2 });
    expect(await compactMailboxes(h.ctx, {})).toEqual({ mailboxes: 1, dropped: 1, kept: 2 });
    const all = await inboxMessages(h.ctx, 'B2', { all: true });
    expect(all.map((m) => [m.content, m.status])).toEqual([
      ['m2', 'read'],
      ['m3', 'delivered'],
    ]);
    expect(readJsonl(path.join(h.dir, 'archive/mailboxes/B2.jsonl')).map((m) => m.content)).toEqual(['m1']);
    // Nothing left to drop: a second run changes no file.
    const before = snapshotTree(h.dir);
    expect(await compactMailboxes(h.ctx, {})).toEqual({ mailboxes: 0, dropped: 0, kept: 2 });
    expect(snapshotTree(h.dir)).toEqual(before);
  });

  it('backoff grows, is capped, and fails after max_retries', () => {
    const cfg = { ...createContext({ dir: '/nonexistent-deia', env: {} }).config.messaging, backoff_base_ms: 1000, backoff_cap_ms: 5000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffMs(n, cfg, () => 1))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(0, cfg, () => 0)).toBe(500);
    const m = { retry_count: 2, max_retries: 3, expires_at: new Date(T0 + 1e9).toISOString() } as never;
    expect(decideAttempt(m, T0, 'no inbox', false, cfg, () => 0.5)).toMatchObject({ kind: 'fail', retry_count: 3 });
    expect(suggestBot('BOT-02', ['BOT-002', 'ZED'])).toBe('BOT-002');
    expect(suggestBot('totally-else', ['BOT-002'])).toBeUndefined();
  });
});
