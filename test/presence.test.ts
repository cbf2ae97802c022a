import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needsRefresh, isStale } from '../src/presence/presence.js';
import { deia, tempHive } from './helpers/cli.js';

const T0 = Date.parse('2026-11-28T10:00:00Z');
const at = (s: number) => ({ DEIA_NOW: String(T0 + s * 1000) });
const bots = (dir: string, s: number) => JSON.parse(deia(['bots', '--json'], { dir, env: at(s) }).stdout);

describe('presence', () => {
  it('rules: refresh at most once per window; stale past the staleness window', () => {
    expect(needsRefresh(undefined, 0)).toBe(true);
    expect(needsRefresh(1000, 5000)).toBe(false);
    expect(needsRefresh(1000, 16_000)).toBe(true);
    expect(needsRefresh(9000, 1000)).toBe(true); // the clock went back: write the truth
    expect(isStale(undefined, 0, 1)).toBe(true);
    expect(isStale(0, 300_000, 300_000)).toBe(false);
    expect(isStale(0, 300_001, 300_000)).toBe(true);
  });

  it('every command a bot runs refreshes last_seen; deia bots shows unread, open tasks, health and stale', () => {
    const { dir } = tempHive();
    expect(deia(['init'], { dir }).code).toBe(0);
    expect(deia(['register', 'W'], { dir, env: at(0) }).code).toBe(0);
    expect(deia(['send', 'W', 'urgent', '--as', 'BOSS', '-p', 'P0'], { dir, env: at(0) }).code).toBe(0);
    expect(deia(['inbox', '--as', 'W'], { dir, env: at(10) }).code).toBe(0);
    expect(deia(['task', 'submit', 'fix the login test', '--type', 'code', '--to', 'W', '--as', 'BOSS'], { dir, env: at(20) }).code).toBe(0);

    let r = bots(dir, 30);
    expect(r.stale_after_ms).toBe(300_000);
    const byId = new Map(r.bots.map((b: any) => [b.bot_id, b]));
    expect(byId.get('W')).toMatchObject({ last_seen: new Date(T0 + 10_000).toISOString(), unread: 2, unread_urgent: 1, open_tasks: 1, stale: false });
    expect(byId.get('BOSS')).toMatchObject({ last_seen: new Date(T0 + 20_000).toISOString(), stale: false });
    expect(typeof (byId.get('W') as any).health).toBe('string');

    // Throttled: a command 5 s later writes nothing; one 20 s later does.
    deia(['inbox', '--as', 'W'], { dir, env: at(15) });
    expect(bots(dir, 30).bots.find((b: any) => b.bot_id === 'W').last_seen).toBe(new Date(T0 + 10_000).toISOString());
    deia(['inbox', '--as', 'W'], { dir, env: at(31) });
    expect(bots(dir, 40).bots.find((b: any) => b.bot_id === 'W').last_seen).toBe(new Date(T0 + 31_000).toISOString());

    // Silent past health.staleness_seconds (300 s): stale, in the table too.
    r = bots(dir, 400);
    expect(r.bots.find((b: any) => b.bot_id === 'W').stale).toBe(true);
    expect(deia(['bots'], { dir, env: at(400) }).stdout).toMatch(/^W\s+6m ago\s+2\s+1\s+1\s+\S+\s+stale$/m);
    expect(JSON.parse(deia(['bots', '--stale', '--json'], { dir, env: at(325) }).stdout).bots.map((b: any) => b.bot_id)).toEqual(['BOSS']);
  });

  it('a command where there is no hive leaves no folder behind', () => {
    const { root, dir } = tempHive();
    deia(['prime', '--as', 'W'], { cwd: root });
    deia(['health', '--as', 'W', '--dir', path.join(root, 'missing')], { cwd: root });
    expect(fs.existsSync(path.join(root, 'missing'))).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a send to a bot that never registered warns at once and says so in --json', () => {
    const { dir } = tempHive();
    deia(['register', 'BOT-002'], { dir });
    const r = deia(['send', 'BOT-0002', 'hello', '--as', 'BOT-001', '--json'], { dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/BOT-0002 has no inbox yet: message kept pending and retried \(did you mean BOT-002\?\)/);
    expect(JSON.parse(r.stdout)).toMatchObject({ to_bot: 'BOT-0002', status: 'pending', recipient_known: false });
    expect(JSON.parse(deia(['send', 'BOT-002', 'hi', '--as', 'BOT-001', '--json'], { dir }).stdout)).toMatchObject({ status: 'delivered', recipient_known: true });
  });

  it('health (and so routing) counts a bot as alive while it runs commands, within the same window', () => {
    const { dir } = tempHive();
    deia(['init'], { dir });
    expect(deia(['health', 'record', 'cpu', '10', '--bot', 'W'], { dir, env: at(0) }).code).toBe(0);
    const healthOf = (s: number) => JSON.parse(deia(['health', '--json'], { dir, env: at(s) }).stdout).bots.find((b: any) => b.bot_id === 'W' || b.name === 'W');
    expect(healthOf(400)).toMatchObject({ stale: true });
    deia(['inbox', '--as', 'W'], { dir, env: at(420) });
    expect(healthOf(450)).toMatchObject({ stale: false, last_seen: new Date(T0 + 420_000).toISOString() });
    expect(healthOf(800)).toMatchObject({ stale: true });
  });
});
