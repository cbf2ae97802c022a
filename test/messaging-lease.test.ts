/**
 * Leases on messages (inbox --next --lease, ack, nack): the settle rule every store applies
 * (decideSettle, parseLease), then the command line and the library on a hive folder in the
 * default layout (queues/inbox.<bot>.jsonl holds the claims). How a queue folds claims, acks,
 * nacks and lapses is the storage interface's contract (test/store-contract.test.ts, queues).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideSettle, parseLease } from '../src/messaging/rules.js';
import type { Message } from '../src/messaging/types.js';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';
import { lib } from './helpers/logs.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** A delivered message as an inbox shows it, never claimed. */
function delivered(id: string): Message {
  return {
    message_id: id,
    from_bot: 'A',
    to_bot: 'Q',
    content: id,
    subject: null,
    priority: 'P2',
    status: 'delivered',
    created_at: at(0),
    delivered_at: at(0),
    read_at: null,
    retry_count: 0,
    max_retries: 3,
    ttl_seconds: 3600,
    expires_at: at(3_600_000),
    next_attempt_at: null,
    last_error: null,
    reply_to: null,
    metadata: {},
    claim_count: 0,
    claimed_by: null,
    lease_expires_at: null,
  } as Message;
}

/** The same message held by `by` under claim `n`, its lease lapsing at T0 + `untilMs`. */
const held = (m: Message, by: string, n: number, untilMs: number): Message => ({ ...m, claimed_by: by, claim_count: n, lease_expires_at: at(untilMs) });

describe('the settle rule (pure)', () => {
  it('decideSettle refuses whoever does not hold the latest claim, and repeats an ack idempotently', () => {
    const base = delivered('a');
    expect(decideSettle(base, 'ack', 'W1', T0)).toEqual({ refused: expect.stringMatching(/not claimed with a lease/) });
    const c1 = held(base, 'W1', 1, 2_000);
    expect(decideSettle(c1, 'ack', 'W2', T0 + 1_000)).toEqual({ refused: expect.stringMatching(/held by W1 \(claim 1\), not by W2/) });
    const c2 = held(c1, 'W2', 2, 5_000);
    expect(decideSettle(c2, 'ack', 'W1', T0 + 3_500)).toEqual({ refused: expect.stringMatching(/held by W2/) });
    expect(decideSettle(c2, 'ack', 'W2', T0 + 3_500, 1)).toEqual({ refused: expect.stringMatching(/claim 1 .* lapsed .*claimed again \(claim 2\)/) });
    const ok = decideSettle(c2, 'ack', 'W2', T0 + 3_500, 2);
    expect(ok).toMatchObject({ event: { t: 'ack', by: 'W2', n: 2 }, message: { status: 'read' } });
    const done = 'message' in ok ? ok.message : base;
    expect(decideSettle(done, 'ack', 'W2', T0 + 4_000)).toMatchObject({ event: null, message: { status: 'read' } });
    expect(decideSettle(done, 'nack', 'W2', T0 + 4_000)).toEqual({ refused: expect.stringMatching(/already read/) });
    const back = decideSettle(c2, 'nack', 'W2', T0 + 3_500);
    const released = 'message' in back ? back.message : base;
    expect(released.lease_expires_at).toBeNull();
    expect(decideSettle(released, 'ack', 'W2', T0 + 3_600)).toEqual({ refused: expect.stringMatching(/given back/) });
  });

  it('parses lease lengths: durations, bounded; bare numbers in text refused', () => {
    expect(parseLease('30s')).toBe(30_000);
    expect(parseLease('10m')).toBe(600_000);
    expect(parseLease('1h')).toBe(3_600_000);
    expect(parseLease(2_500)).toBe(2_500);
    for (const bad of ['30', '0s', '500ms', '13h', 'soon', -5]) expect(() => parseLease(bad), String(bad)).toThrow(/--lease/);
  });
});

describe('ack and nack from the command line, on a new folder', () => {
  it('errors are one line, exit 1 (not held) or 2 (bad input), and store nothing', () => {
    const { dir } = tempHive('deia-lease-');
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
    deia(['register', 'Q'], { dir });
    deia(['send', 'Q', 'one', '--as', 'A'], { dir });
    deia(['send', 'Q', 'two', '--as', 'A'], { dir });
    const plain = JSON.parse(deia(['inbox', 'Q', '--json'], { dir }).stdout)[1].message_id as string;
    const c = deia(['inbox', 'Q', '--next', '--lease', '10m', '--as', 'W1', '--json'], { dir });
    expect(c.code, c.stderr).toBe(0);
    const m = JSON.parse(c.stdout);
    expect(m).toMatchObject({ status: 'delivered', claim_count: 1, claimed_by: 'W1' });
    // invisible to another claimer while leased; the other message is claimed instead
    const other = JSON.parse(deia(['inbox', 'Q', '--next', '--lease', '10m', '--as', 'W2', '--json'], { dir }).stdout);
    expect(other.message_id).toBe(plain);
    expect(deia(['inbox', 'Q', '--next', '--as', 'W3', '--json'], { dir }).code).toBe(1);
    const before = snapshotTree(dir);
    const cases: Array<[string[], number, RegExp]> = [
      [['ack', m.message_id, '--as', 'W2', '--inbox', 'Q'], 1, /held by W1 \(claim 1\), not by W2/],
      [['nack', m.message_id, '--as', 'W2', '--inbox', 'Q'], 1, /held by W1/],
      [['ack', m.message_id, '--as', 'W1', '--inbox', 'Q', '--claim', '2'], 1, /claim 2 .* lapsed/],
      [['ack', m.message_id, plain, '--as', 'W1', '--inbox', 'Q'], 1, /held by W2/],
      [['ack', 'zzzz', '--as', 'W1', '--inbox', 'Q'], 2, /no message with id "zzzz"/],
      [['ack', m.message_id, '--inbox', 'Q'], 2, /needs to know which bot you are/],
      [['ack', m.message_id, '--as', 'W1', '--claim', 'x'], 2, /--claim must be a positive whole number/],
      [['inbox', 'Q', '--lease', '10m'], 2, /--lease applies to a claim/],
      [['inbox', 'Q', '--next', '--lease', 'forever'], 2, /--lease/],
    ];
    for (const [args, code, re] of cases) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ') + r.stderr).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(snapshotTree(dir)).toEqual(before);
    // the holder acks (found without --inbox, by prefix); a repeat is harmless; nack after ack is refused
    const ok = deia(['ack', m.message_id.slice(0, 8), '--as', 'W1', '--json'], { dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)[0]).toMatchObject({ message_id: m.message_id, status: 'read', claim_count: 1 });
    expect(deia(['ack', m.message_id, '--as', 'W1'], { dir }).code).toBe(0);
    const n = deia(['nack', m.message_id, '--as', 'W1'], { dir });
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/already read/);
    // nack gives the other one back at once: another claimer gets it, claim 2
    expect(deia(['nack', plain, '--as', 'W2', '--inbox', 'Q'], { dir }).code).toBe(0);
    const again = JSON.parse(deia(['inbox', 'Q', '--next', '--lease', '1m', '--as', 'W3', '--json'], { dir }).stdout);
    expect(again).toMatchObject({ message_id: plain, claim_count: 2, claimed_by: 'W3' });
    // Every lease event, by whom and for which claim, in order: the audit log.
    const audit = readJsonl(path.join(dir, 'bot-messaging.jsonl'));
    const leaseEvents = ['message_claimed', 'message_acked', 'message_released'];
    expect(audit.filter((a) => leaseEvents.includes(a.event)).map((a) => [a.event, a.message_id, a.details.claimed_by, a.details.claim_count])).toEqual([
      ['message_claimed', m.message_id, 'W1', 1],
      ['message_claimed', plain, 'W2', 1],
      ['message_acked', m.message_id, 'W1', 1],
      ['message_released', plain, 'W2', 1],
      ['message_claimed', plain, 'W3', 2],
    ]);
    // The layout's queue file holds the claims (by whom) and the settlements, in the same order.
    const events = readJsonl(path.join(dir, 'queues', 'inbox.Q.jsonl')).filter((r) => r.t !== 'item');
    expect(events.map((e) => [e.t, e.id, e.by])).toEqual([
      ['claim', m.message_id, 'W1'],
      ['claim', plain, 'W2'],
      ['ack', m.message_id, undefined],
      ['nack', plain, undefined],
      ['claim', plain, 'W3'],
    ]);
    // and what `inbox --all` answers: one read (claim 1 by W1), one leased again (claim 2 by W3)
    const all = JSON.parse(deia(['inbox', 'Q', '--all', '--json'], { dir }).stdout) as Message[];
    expect(all.map((x) => [x.message_id, x.status, x.claim_count, x.claimed_by])).toEqual([
      [m.message_id, 'read', 1, 'W1'],
      [plain, 'delivered', 2, 'W3'],
    ]);
  });

  it('a lapsed lease makes the message claimable again (DEIA_NOW), and the first holder can no longer ack', () => {
    const { dir } = tempHive('deia-lease-');
    expect(deia(['init'], { dir }).code).toBe(0);
    const t = (ms: number) => ({ DEIA_NOW: String(T0 + ms) });
    deia(['register', 'Q'], { dir, env: t(0) });
    const id = deia(['send', 'Q', 'work', '--as', 'A'], { dir, env: t(0) }).stdout.trim();
    expect(JSON.parse(deia(['inbox', 'Q', '--next', '--lease', '30s', '--as', 'W1', '--json'], { dir, env: t(1_000) }).stdout).message_id).toBe(id);
    expect(deia(['inbox', 'Q', '--next', '--lease', '30s', '--as', 'W2'], { dir, env: t(30_000) }).code).toBe(1);
    const c2 = JSON.parse(deia(['inbox', 'Q', '--next', '--lease', '30s', '--as', 'W2', '--json'], { dir, env: t(31_000) }).stdout);
    expect(c2).toMatchObject({ message_id: id, claim_count: 2, claimed_by: 'W2' });
    const late = deia(['ack', id, '--as', 'W1', '--inbox', 'Q'], { dir, env: t(32_000) });
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/held by W2 \(claim 2\), not by W1/);
    expect(deia(['ack', id, '--as', 'W2', '--inbox', 'Q'], { dir, env: t(32_000) }).code).toBe(0);
  });
});

describe('leases through the library, on a new folder', () => {
  it('Hive.inbox({ next, lease }), Hive.ack / Hive.nack, and compaction of acked messages with their events', async () => {
    const { dir } = tempHive('deia-lease-lib-');
    const clock = { now: T0 };
    const { openHive, sequentialIds } = await lib();
    const open = (as: string) => openHive({ dir, as, clock: () => clock.now, ids: sequentialIds(`${as}-`), warn: () => undefined });
    const producer = await open('P');
    const w1 = await open('W1');
    const w2 = await open('W2');
    await producer.register('Q');
    const a = await producer.send({ to: 'Q', body: 'a' });
    const b = await producer.send({ to: 'Q', body: 'b' });
    const c1 = await w1.inbox({ bot: 'Q', next: true, lease: 60_000 });
    expect(c1).toMatchObject({ message_id: a.message_id, claim_count: 1, claimed_by: 'W1', lease_expires_at: at(60_000) });
    const c2 = await w2.inbox({ bot: 'Q', next: true, lease: '1m' });
    expect(c2?.message_id).toBe(b.message_id);
    expect(await w2.inbox({ bot: 'Q', next: true, lease: '1m' })).toBeNull();
    await expect(w2.ack(a.message_id, { inbox: 'Q' })).rejects.toMatchObject({ code: 'ENOTHELD', exitCode: 1 });
    expect((await w1.ack(a.message_id, { inbox: 'Q', claim: 1 }))[0]).toMatchObject({ status: 'read', read_at: at(0) });
    expect((await w2.nack([b.message_id], { inbox: 'Q' }))[0]).toMatchObject({ status: 'delivered', lease_expires_at: null });
    // at-most-once claims (no lease) are unchanged: marked read at once
    expect(await w1.inbox({ bot: 'Q', next: true })).toMatchObject({ message_id: b.message_id, status: 'read' });
    // a week and a bit later cleanup's compaction drops both with every event of theirs
    clock.now = T0 + 169 * 3_600_000;
    const x = await open('X');
    expect(x.ctx.storeChoice.kind).toBe('interface');
    // On the layout, cleanup's retention forgets read mail: the queue file keeps no line of either
    // (item, claims, ack, nack), and the inbox lists neither.
    expect((await x.cleanup()).compaction).toMatchObject({ dropped: 2, kept: 0 });
    expect(readJsonl(path.join(dir, 'queues', 'inbox.Q.jsonl'))).toEqual([]);
    expect(await x.inbox({ bot: 'Q', all: true })).toEqual([]);
  });
});
