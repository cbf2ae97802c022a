import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, deiaAsync, tempHive } from './helpers/cli.js';

/**
 * The retry path of pending mail, end to end across processes, with no `cleanup` or
 * `deliver`: ordinary commands (send, inbox) must notice when pending mail is due. On a hive
 * folder in the default layout (the storage interface's).
 */
function hive(messaging: Record<string, number> = {}) {
  const { dir } = tempHive('deia-retry-');
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  const file = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(cfg.messaging, messaging);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return dir;
}

const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => ({ DEIA_NOW: String(t0 + ms) });

function pendingOf(dir: string, id: string, ms: number) {
  const st = JSON.parse(deia(['status', '--json'], { dir, env: at(ms) }).stdout);
  return { pending: st.pending.find((p: { message_id: string }) => p.message_id === id), failed: st.failed.find((p: { message_id: string }) => p.message_id === id) };
}

/**
 * An inbox that appears without anything delivered to it, as when its creator died right after
 * creating it: what registering commits (its registration document and line, one transaction)
 * before it hands over waiting mail.
 */
function inboxAppears(dir: string, bot: string, now: number) {
  const timestamp = new Date(now).toISOString();
  expect(fs.existsSync(path.join(dir, 'docs', `bot.${bot}.json`))).toBe(false);
  fs.writeFileSync(path.join(dir, 'docs', `bot.${bot}.json`), JSON.stringify({ version: 1, value: { bot_id: bot, timestamp } }));
  fs.appendFileSync(path.join(dir, 'bots.jsonl'), JSON.stringify({ event: 'registered', bot_id: bot, timestamp }) + '\n');
}

describe('pending mail is rescheduled by ordinary commands', () => {
  it('a send to a bot without an inbox is retried when due by a later send, and delivered once its inbox exists', () => {
    const dir = hive({ backoff_base_ms: 10_000, backoff_cap_ms: 10_000 });
    const id = deia(['send', 'LATE', 'hi', '--as', 'A'], { dir, env: at(0) }).stdout.trim();
    const p0 = pendingOf(dir, id, 1000).pending;
    expect(p0).toMatchObject({ retry_count: 0 });
    const due = Date.parse(p0.next_attempt_at);
    expect(due).toBeGreaterThan(t0);
    // A later ordinary command, after the retry is due: the retry is made (counted and rescheduled).
    expect(deia(['send', 'B', 'unrelated', '--as', 'A'], { dir, env: at(due - t0 + 1) }).code).toBe(0);
    const p1 = pendingOf(dir, id, due - t0 + 2).pending;
    expect(p1).toMatchObject({ retry_count: 1, last_error: 'recipient has no inbox' });
    expect(Date.parse(p1.next_attempt_at)).toBeGreaterThan(due);
    // The inbox appears without delivering (as when its creator died before delivering):
    // the next ordinary command after the retry is due delivers the message.
    inboxAppears(dir, 'LATE', due - t0 + 3);
    // Nothing delivers it before the retry is due.
    expect(pendingOf(dir, id, due - t0 + 4).pending).toMatchObject({ retry_count: 1 });
    const due2 = Date.parse(p1.next_attempt_at) - t0;
    expect(deia(['send', 'B', 'unrelated 2', '--as', 'A'], { dir, env: at(due2 + 1) }).code).toBe(0);
    expect(pendingOf(dir, id, due2 + 2).pending).toBeUndefined();
    const inbox = JSON.parse(deia(['inbox', 'LATE', '--json'], { dir, env: at(due2 + 3) }).stdout);
    expect(inbox.map((m: { message_id: string; retry_count: number }) => [m.message_id, m.retry_count])).toEqual([[id, 1]]);
  });

  it('expires a pending message past its TTL without cleanup (a later inbox look does it)', () => {
    const dir = hive({ backoff_base_ms: 3_600_000, backoff_cap_ms: 3_600_000 });
    const id = deia(['send', 'NOBODY', 'short-lived', '--as', 'A', '--ttl', '30'], { dir, env: at(0) }).stdout.trim();
    expect(pendingOf(dir, id, 1000).pending).toBeDefined();
    expect(deia(['inbox', '--as', 'A', '--json'], { dir, env: at(31_000) }).code).toBe(0);
    const after = pendingOf(dir, id, 32_000);
    expect(after.pending).toBeUndefined();
    expect(after.failed).toMatchObject({ message_id: id, status: 'expired' });
  });

  it('with max_inbox_unread=1, once the first is claimed, inbox --next --wait in another process receives the second', async () => {
    const dir = hive({ max_inbox_unread: 1, backoff_base_ms: 1000, backoff_cap_ms: 2000 });
    expect(deia(['register', 'Q'], { dir }).code).toBe(0);
    const first = deia(['send', 'Q', 'first', '--as', 'A'], { dir }).stdout.trim();
    const r2 = deia(['send', 'Q', 'second', '--as', 'A', '--json'], { dir });
    const second = JSON.parse(r2.stdout);
    expect(second).toMatchObject({ status: 'pending', last_error: 'recipient inbox is full' });
    const c1 = JSON.parse(deia(['inbox', '--next', '--json', '--as', 'Q'], { dir }).stdout);
    expect(c1.message_id).toBe(first);
    const t = Date.now();
    const w = await deiaAsync(['inbox', '--next', '--wait', '15', '--json', '--as', 'Q'], { dir });
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).message_id).toBe(second.message_id);
    expect(Date.now() - t).toBeLessThan(12_000);
  });
});
