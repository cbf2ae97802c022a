/**
 * Presence, `deia bots` and the harness hooks on both backends, through real CLI processes: the
 * same last_seen rule (a write at most once per 15 s per bot), the same `bots --json` shape, and
 * on PostgreSQL the hook digest of unread mail, failing open when the server is not there. Needs
 * the test PostgreSQL server (fails without it, never skips).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, snapshotTree, tempHive, type CliOptions } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';

const T0 = Date.parse('2030-01-01T10:00:00Z');
const at = (s: number) => String(T0 + s * 1000);
const seenIso = (s: number) => new Date(T0 + s * 1000).toISOString();

type Backend = { name: string; opts: CliOptions; cleanup: () => Promise<void> };

/** A new folder named by --dir, nothing planted: the hive users get by default. */
async function folder(): Promise<Backend> {
  const h = tempHive();
  expect(deia(['init'], { dir: h.dir }).code).toBe(0);
  return {
    name: 'folder',
    opts: { dir: h.dir },
    cleanup: async () => fs.rmSync(h.root, { recursive: true, force: true }),
  };
}

async function postgres(): Promise<Backend> {
  const db = await freshDatabase();
  expect(deia(['init', '--store', db.url]).code).toBe(0);
  // An empty folder to run in, so that no .deia/ around the test is read or written.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-pres-pg-'));
  return {
    name: 'postgres',
    opts: { cwd, env: { DEIA_STORE: db.url } },
    cleanup: async () => {
      await db.drop();
      fs.rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** A file:// folder (the storage interface's file backend), used from an empty folder like the store. */
async function fileUrl(): Promise<Backend> {
  const f = freshInterfaceFolder();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-pres-file-'));
  return {
    name: 'file:// folder',
    opts: { cwd, env: { DEIA_STORE: f.url } },
    cleanup: async () => {
      await f.drop();
      fs.rmSync(cwd, { recursive: true, force: true });
    },
  };
}

const run = (b: Backend, args: string[], s: number) => deia(args, { ...b.opts, env: { ...b.opts.env, DEIA_NOW: at(s) } });
const bots = (b: Backend, s: number) => {
  const r = run(b, ['bots', '--json'], s);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { generated_at: string; stale_after_ms: number; bots: Array<Record<string, unknown>> };
};
const botOf = (b: Backend, s: number, id: string) => bots(b, s).bots.find((x) => x.bot_id === id);

describe('presence and deia bots on both backends', () => {
  const done: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of done.splice(0)) await f();
  });

  for (const make of [folder, postgres, fileUrl]) {
    it(`${make.name}: every command a bot runs refreshes last_seen (throttled); bots --json has the same shape; stale past the window`, async () => {
      const b = await make();
      done.push(b.cleanup);
      expect(run(b, ['register', 'W'], 0).code).toBe(0);
      expect(run(b, ['send', 'W', 'urgent', '--as', 'BOSS', '-p', 'P0'], 0).code).toBe(0);
      expect(run(b, ['send', 'W', 'later', '--as', 'BOSS'], 0).code).toBe(0);
      expect(run(b, ['inbox', '--as', 'W'], 10).code).toBe(0);

      const r = bots(b, 30);
      expect(Object.keys(r).sort()).toEqual(['bots', 'generated_at', 'stale_after_ms']);
      expect(r.stale_after_ms).toBe(300_000);
      expect(r.bots.map((x) => x.bot_id)).toEqual(['BOSS', 'W']);
      const w = r.bots.find((x) => x.bot_id === 'W')!;
      expect(Object.keys(w).sort()).toEqual(['bot_id', 'health', 'last_seen', 'last_seen_age_ms', 'open_tasks', 'registered_at', 'stale', 'unread', 'unread_urgent']);
      expect(w).toMatchObject({ last_seen: seenIso(10), last_seen_age_ms: 20_000, stale: false, unread: 2, unread_urgent: 1, registered_at: seenIso(0) });
      expect(typeof w.health).toBe('string');
      expect(w.open_tasks).toBe(0);
      expect(r.bots.find((x) => x.bot_id === 'BOSS')).toMatchObject({ last_seen: seenIso(0), unread: 0 });

      // Throttled: a command 5 s later writes nothing; one 21 s later does.
      run(b, ['inbox', '--as', 'W'], 15);
      expect(botOf(b, 30, 'W')!.last_seen).toBe(seenIso(10));
      run(b, ['inbox', '--as', 'W'], 31);
      expect(botOf(b, 40, 'W')!.last_seen).toBe(seenIso(31));

      // Silent past health.staleness_seconds (300 s): stale, and listed by --stale.
      expect(botOf(b, 400, 'W')!.stale).toBe(true);
      const stale = JSON.parse(run(b, ['bots', '--stale', '--json'], 325).stdout);
      expect(stale.bots.map((x: { bot_id: string }) => x.bot_id)).toEqual(['BOSS']);
      expect(run(b, ['bots'], 400).stdout).toMatch(/^W\s+6m ago\s+2\s+1\s+\S+\s+\S+\s+stale$/m);

      // A task given to W counts as open until it is finished.
      const t = JSON.parse(run(b, ['task', 'submit', 'write it', '--type', 'code', '--to', 'W', '--as', 'BOSS', '--json'], 401).stdout);
      expect(botOf(b, 402, 'W')!.open_tasks).toBe(1);
      expect(run(b, ['task', 'done', t.task_id, '--as', 'W'], 403).code).toBe(0);
      expect(botOf(b, 404, 'W')!.open_tasks).toBe(0);
    });
  }

  it('postgres: a command that fails stores no sighting; presence goes to the store, not into a .deia/ around', async () => {
    const b = await postgres();
    done.push(b.cleanup);
    const h = tempHive();
    done.push(async () => fs.rmSync(h.root, { recursive: true, force: true }));
    expect(deia(['init', '--dir', h.dir]).code).toBe(0);
    const before = snapshotTree(h.dir);
    const inFolder: CliOptions = { cwd: h.root, env: { DEIA_STORE: b.opts.env!.DEIA_STORE } };
    expect(deia(['inbox', '--as', 'Q'], { ...inFolder, env: { ...inFolder.env, DEIA_NOW: at(0) } }).code).toBe(0);
    expect(deia(['bots', '--json'], { ...inFolder, env: { ...inFolder.env, DEIA_NOW: at(1) } }).code).toBe(0);
    expect(snapshotTree(h.dir)).toEqual(before);
    expect(fs.existsSync(path.join(h.dir, 'presence'))).toBe(false);
    expect(botOf(b, 1, 'Q')).toMatchObject({ last_seen: seenIso(0) });
    // A refused command (bad usage) says nothing about its bot.
    expect(run(b, ['inbox', '--as', 'R', '--limit', '0'], 2).code).toBe(2);
    expect(botOf(b, 3, 'R')).toBeUndefined();
  });
});

function hook(b: Backend, event: string, payload: unknown, s: number, env: Record<string, string> = {}) {
  return deia(['hook', event, '--harness', 'claude'], { cwd: b.opts.cwd, input: JSON.stringify(payload), env: { ...b.opts.env, DEIA_NOW: at(s), ...env } });
}

describe('harness hooks on PostgreSQL', () => {
  const done: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of done.splice(0)) await f();
  });

  it('session start registers the bot and injects; prompt injects unread mail once, throttled; stop blocks once for P0/P1', async () => {
    const b = await postgres();
    done.push(b.cleanup);
    const base = { session_id: '9f3c2b1a-0000-4c8e-9a51-7d2f3e4b5c6d', cwd: b.opts.cwd };
    const start = hook(b, 'session-start', { ...base, hook_event_name: 'SessionStart' }, 0);
    expect(start.code).toBe(0);
    const ctx = JSON.parse(start.stdout).hookSpecificOutput.additionalContext as string;
    expect(ctx).toMatch(/^deia: you are bot claude-9f3c2b1a in the hive at postgres:\/\//);
    expect(ctx).not.toContain(new URL(b.opts.env!.DEIA_STORE!).password);
    expect(botOf(b, 1, 'claude-9f3c2b1a')).toMatchObject({ last_seen: seenIso(0), registered_at: seenIso(0), stale: false });
    // Nothing was written into the folder the agent works in.
    expect(fs.readdirSync(b.opts.cwd!)).toEqual([]);

    const prompt = (s: number) => hook(b, 'prompt', { ...base, hook_event_name: 'UserPromptSubmit', prompt: 'go on' }, s);
    expect(prompt(2).stdout).toBe(''); // nothing new
    expect(run(b, ['send', 'claude-9f3c2b1a', 'deploy is broken', '--as', 'OPS', '--priority', 'P0'], 3).code).toBe(0);
    expect(prompt(5).stdout).toBe(''); // news, but within the throttle window
    const p = JSON.parse(prompt(15).stdout);
    expect(p.hookSpecificOutput.additionalContext).toMatch(/1 unread for claude-9f3c2b1a \(P0 1\)[\s\S]*- \[P0\] \w{8} from OPS, 12s ago: deploy is broken/);
    expect(prompt(40).stdout).toBe(''); // told already
    // A task given to the agent is news too, and listed.
    expect(run(b, ['task', 'submit', 'fix the deploy', '--type', 'code', '--to', 'claude-9f3c2b1a', '--as', 'OPS'], 41).code).toBe(0);
    expect(JSON.parse(prompt(45).stdout).hookSpecificOutput.additionalContext).toMatch(/Open tasks of claude-9f3c2b1a: 1[\s\S]*\[code\] assigned: fix the deploy/);

    const stop = (active: boolean) => hook(b, 'stop', { ...base, hook_event_name: 'Stop', stop_hook_active: active }, 50);
    expect(JSON.parse(stop(false).stdout)).toMatchObject({ decision: 'block', reason: expect.stringMatching(/^1 unread P0\/P1 message for claude-9f3c2b1a \(first from OPS\)/) });
    expect(stop(true).stdout).toBe('');
    expect(run(b, ['inbox', '--next', '--priority', 'P0', '--as', 'claude-9f3c2b1a'], 51).code).toBe(0);
    expect(stop(false).stdout).toBe('');
    expect(fs.readdirSync(b.opts.cwd!)).toEqual([]);
  });

  it('fails open: an unreachable server makes every hook exit 0 with nothing on stdout', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-pres-pg-'));
    try {
      const down: Backend = { name: 'down', opts: { cwd, env: { DEIA_STORE: 'postgres://deia:secret@127.0.0.1:1/hive' } }, cleanup: async () => undefined };
      for (const event of ['session-start', 'prompt', 'stop']) {
        const r = hook(down, event, { session_id: 'abc', cwd }, 0);
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('');
        expect(r.stderr).not.toContain('secret');
      }
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});
