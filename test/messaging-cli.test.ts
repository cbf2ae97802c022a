import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function hive() {
  const { dir } = tempHive('deia-msgcli-');
  expect(deia(['init'], { dir }).code).toBe(0);
  return dir;
}

describe('messaging across real processes', () => {
  it('8 senders x 50 messages while 4 claimers run inbox --next: each message claimed exactly once', async () => {
    const dir = hive();
    expect(deia(['register', 'SINK'], { dir }).code).toBe(0);
    let sendersDone = false;
    const senders = Array.from({ length: 8 }, async (_, s) => {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await deiaAsync(['send', 'SINK', `msg ${s}-${i}`, '--as', `S${s}`, '--priority', `P${i % 4}`], { dir });
        expect(r.code, r.stderr).toBe(0);
        ids.push(r.stdout.trim());
      }
      return ids;
    });
    const claimers = Array.from({ length: 4 }, async () => {
      const got: string[] = [];
      for (;;) {
        const finished = sendersDone;
        const r = await deiaAsync(['inbox', '--next', '--json', '--as', 'SINK'], { dir });
        if (r.code === 0) got.push(JSON.parse(r.stdout).message_id);
        else {
          expect(r.code, r.stderr).toBe(1);
          expect(JSON.parse(r.stdout)).toBeNull();
          if (finished) return got;
        }
      }
    });
    const sent = (await Promise.all(senders)).flat();
    sendersDone = true;
    const claimed = (await Promise.all(claimers)).flat();
    expect(sent).toHaveLength(400);
    expect(new Set(sent).size).toBe(400);
    expect(claimed).toHaveLength(400);
    expect(new Set(claimed)).toEqual(new Set(sent));
    const log = readJsonl(path.join(dir, 'bot-messaging.jsonl'));
    for (const ev of ['message_queued', 'message_read']) {
      const ids = log.filter((e) => e.event === ev).map((e) => e.message_id);
      expect(ids, ev).toHaveLength(400);
      expect(new Set(ids), ev).toEqual(new Set(sent));
    }
    const st = JSON.parse(deia(['status', '--json'], { dir }).stdout);
    expect(st.by_status.read).toBe(400);
    expect(st.bots.find((b: { bot_id: string }) => b.bot_id === 'SINK').unread).toBe(0);
  }, 300_000);

  it('inbox --wait returns within a second after another process sends', async () => {
    const dir = hive();
    expect(deia(['register', 'W'], { dir }).code).toBe(0);
    let doneAt = 0;
    const waiter = deiaAsync(['inbox', 'W', '--wait', '10', '--json'], { dir }).then((r) => {
      doneAt = Date.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(doneAt).toBe(0); // still waiting
    const s = deia(['send', 'W', 'wake up', '--as', 'X'], { dir });
    const sentAt = Date.now();
    const r = await waiter;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((m: { content: string }) => m.content)).toEqual(['wake up']);
    expect(s.code).toBe(0);
    expect(doneAt - sentAt).toBeLessThan(1000);
  });

  it('inbox --wait exits 1 when nothing came, and --next --wait claims what arrives', async () => {
    const dir = hive();
    const r = deia(['inbox', 'Q', '--wait', '0.3', '--json'], { dir });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([]);
    const waiter = deiaAsync(['inbox', 'Q', '--next', '--wait', '10', '--json'], { dir });
    await new Promise((res) => setTimeout(res, 400));
    deia(['send', 'Q', 'claim me', '--as', 'X'], { dir });
    const w = await waiter;
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ content: 'claim me', status: 'read' });
  });

  it('send prints a uuid, reads the body from stdin with -, and warns about an unknown bot', () => {
    const dir = hive();
    deia(['register', 'BOT-002'], { dir });
    const a = deia(['send', 'BOT-002', 'hello', 'world', '--as', 'BOT-001'], { dir });
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(UUID);
    const b = deia(['send', 'BOT-002', '-', '--from', 'BOT-001', '--json'], { dir, input: 'line one\nline two\n' });
    expect(JSON.parse(b.stdout)).toMatchObject({ content: 'line one\nline two', status: 'delivered', to_bot: 'BOT-002' });
    const c = deia(['send', 'BOT-02', 'typo', '--as', 'BOT-001'], { dir });
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(/BOT-02 has no inbox yet.*did you mean BOT-002\?/);
    const inbox = JSON.parse(deia(['inbox', 'BOT-002', '--json'], { dir }).stdout);
    expect(inbox.map((m: { content: string }) => m.content)).toEqual(['hello world', 'line one\nline two']);
  });

  it('send --stdin-jsonl sends a batch and prints one id a line; a bad line stores nothing', () => {
    const dir = hive();
    deia(['register', 'R1'], { dir });
    deia(['register', 'R2'], { dir });
    const lines = [
      { to: 'R1', body: 'one' },
      { to: 'R2', body: 'two', priority: 'P0' },
      { to: 'R1', body: 'three', ttl: 60, reply_to: 'x' },
    ];
    const r = deia(['send', '--stdin-jsonl', '--as', 'B'], { dir, input: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
    expect(r.code, r.stderr).toBe(0);
    const ids = r.stdout.trim().split('\n');
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(UUID);
    const r1 = JSON.parse(deia(['inbox', 'R1', '--json'], { dir }).stdout);
    expect(r1.map((m: { message_id: string }) => m.message_id)).toEqual([ids[0], ids[2]]);
    const before = snapshotTree(dir);
    const bad = deia(['send', '--stdin-jsonl', '--as', 'B'], { dir, input: '{"to":"R1","body":"ok"}\n{"to":"R1","body":"x","priority":"P7"}\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^deia: stdin line 2: unknown priority/);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('refuses bad input with one line on stderr, exit 2, nothing stored', () => {
    const dir = hive();
    deia(['register', 'R'], { dir });
    deia(['send', 'R', 'seed', '--as', 'S'], { dir });
    const before = snapshotTree(dir);
    const cases: Array<[string[], RegExp]> = [
      [['send', 'R', 'x', '--as', 'S', '--priority', 'P5'], /unknown priority/],
      [['send', 'R', 'x', '--as', 'S', '--ttl', '0'], /TTL/],
      [['send', 'R', 'x', '--as', 'S', '--ttl', 'soon'], /--ttl: cannot read "soon" as a duration/],
      [['send', 'R', 'x', '--as', 'S', '--ttl', '1500ms'], /TTL must be a positive whole number of seconds/],
      [['send', 'R', '', '--as', 'S'], /empty message body/],
      [['send', 'R', 'x'], /which bot you are/],
      [['send', '../R', 'x', '--as', 'S'], /invalid recipient/],
      [['read', 'zzzz', '--as', 'R'], /no message with id/],
      [['inbox', 'R', '--priority', 'high'], /unknown priority/],
    ];
    for (const [args, re] of cases) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('retries driven by DEIA_NOW: pending, then delivered when the bot registers; conversation shows both directions', () => {
    const dir = hive();
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const at = (ms: number) => ({ DEIA_NOW: String(t0 + ms) });
    const id = deia(['send', 'LATE', 'hi late', '--as', 'A'], { dir, env: at(0) }).stdout.trim();
    const d1 = JSON.parse(deia(['deliver', '--json'], { dir, env: at(60_000) }).stdout);
    expect(d1).toEqual({ delivered: 0, retried: 1, failed: 0, expired: 0 });
    const st = JSON.parse(deia(['status', '--json'], { dir, env: at(61_000) }).stdout);
    expect(st.pending).toHaveLength(1);
    expect(st.pending[0]).toMatchObject({ message_id: id, retry_count: 1 });
    expect(Date.parse(st.pending[0].next_attempt_at)).toBeGreaterThan(t0 + 60_000);
    // Looking at its inbox creates it, and the waiting mail is delivered at once.
    const inbox = JSON.parse(deia(['inbox', '--json', '--as', 'LATE'], { dir, env: at(62_000) }).stdout);
    expect(inbox.map((m: { message_id: string }) => m.message_id)).toEqual([id]);
    deia(['send', 'A', 'thanks', '--as', 'LATE', '--reply-to', id], { dir, env: at(63_000) });
    const conv = JSON.parse(deia(['conversation', 'A', 'LATE', '--json'], { dir }).stdout);
    expect(conv.map((m: { content: string; status: string }) => [m.content, m.status])).toEqual([
      ['hi late', 'delivered'],
      ['thanks', 'delivered'],
    ]);
    expect(conv[1].reply_to).toBe(id);
    const human = deia(['conversation', 'A', 'LATE'], { dir, env: at(63_000) });
    expect(human.stdout).toMatch(/hi late/);
    const read = deia(['read', id.slice(0, 6), '--as', 'LATE', '--json'], { dir, env: at(64_000) });
    expect(JSON.parse(read.stdout)[0]).toMatchObject({ message_id: id, status: 'read' });
  });

  it('human inbox table shows short id, sender, priority, age and subject or first line', () => {
    const dir = hive();
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    deia(['register', 'H'], { dir });
    const id = deia(['send', 'H', 'first line\nsecond', '--as', 'S', '-p', 'P0'], { dir, env: { DEIA_NOW: String(t0) } }).stdout.trim();
    deia(['send', 'H', 'body', '--subject', 'the subject', '--as', 'S'], { dir, env: { DEIA_NOW: String(t0) } });
    const r = deia(['inbox', 'H'], { dir, env: { DEIA_NOW: String(t0 + 180_000) } });
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^id\s+from\s+priority\s+age\s+subject/);
    expect(rows[1]).toMatch(new RegExp(`^${id.slice(0, 8)}\\s+S\\s+P0\\s+3m\\s+first line$`));
    expect(rows[2]).toMatch(/P2\s+3m\s+the subject$/);
  });
});
