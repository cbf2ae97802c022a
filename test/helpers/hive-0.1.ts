/**
 * The hives deia 0.1 made (test/fixtures/hive-0.1/, make.mjs there says how), copied for a test,
 * with what deia 0.1 answered about each (NAME.answers.json): this deia runs no command but
 * doctor, export and migrate on such a folder, so what the folder "answers" is that recording.
 * Every command on a fixture (or a copy, an upgrade of it) runs at its pinned time (fx.env):
 * its messages' TTLs and leases are relative to it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { deia } from './cli.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/hive-0.1/', import.meta.url));
export const LOGS = ['bot-messaging.jsonl', 'adaptive-scheduling.jsonl', 'health-alerts.jsonl'] as const;
export type Logs = Record<(typeof LOGS)[number], string>;
export interface Answer {
  args: string[];
  code: number;
  stdout?: string;
  logs?: Logs;
}
export interface Fixture {
  root: string;
  dir: string;
  /** A scratch folder outside root, for exports (root holds the hive and what an upgrade keeps beside it). */
  out: string;
  /** The fixture's pinned time: DEIA_NOW of every command on it or a copy of it. */
  now: string;
  env: { DEIA_NOW: string };
  ids: Record<string, any>;
  /** The recorded commands, in the order deia 0.1 ran them. */
  answers: Answer[];
  /** What deia 0.1 answered to `args`: its --json output parsed, or an export's three logs. */
  recorded(args: string[]): any;
  recordedCode(args: string[]): number;
}

/**
 * The recording copied the fixture with fs.cpSync, which does not keep file times, so deia 0.1 saw
 * the presence/ files (a bot's last sighting is its file's time) as touched at the recording's real
 * time, after `now` (age clamped to 0, not stale). A copy made here has them set to `now` (below):
 * a recorded sighting later than `now` is that artefact, and is read as `now`. Nothing else is changed.
 */
function seenAtNow(v: unknown, now: string): any {
  if (Array.isArray(v)) return v.map((x) => seenAtNow(x, now));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'last_seen' && typeof x === 'string' && Date.parse(x) > Date.parse(now) ? now : seenAtNow(x, now)]));
  }
  return v;
}

/** A copy of a hive deia 0.1 made, as `<root>/.deia`, with what deia 0.1 answered about it. */
export type FixtureName = 'messaging' | 'routing' | 'tasks-health';
export const FIXTURE_NAMES: FixtureName[] = ['messaging', 'routing', 'tasks-health'];

/** `cleanups` gets what removes the copy. */
export function fixture(name: FixtureName, cleanups: Array<() => void | Promise<void>>): Fixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `deia-0.1-${name}-`));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, '.deia');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `deia-0.1-${name}-out-`));
  cleanups.push(() => fs.rmSync(out, { recursive: true, force: true }));
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  const rec = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.answers.json`), 'utf8')) as { now: string; ids: Record<string, any>; answers: Answer[] };
  const now = rec.now;
  // Git keeps no file times: every bot's sighting at `now`, as the recording saw it (seenAtNow).
  for (const f of fs.readdirSync(path.join(dir, 'presence'))) fs.utimesSync(path.join(dir, 'presence', f), new Date(now), new Date(now));
  const answer = (args: string[]) => {
    const a = rec.answers.find((x) => x.args.join('\0') === args.join('\0'));
    if (!a) throw new Error(`not recorded for ${name}: ${args.join(' ')}`);
    return a;
  };
  return {
    root,
    dir,
    out,
    now,
    env: { DEIA_NOW: now },
    ids: rec.ids,
    answers: rec.answers,
    recorded: (args) => {
      const a = answer(args);
      return a.logs ?? seenAtNow(JSON.parse(a.stdout!), now);
    },
    recordedCode: (args) => answer(args).code,
  };
}

/** The three audit logs `deia export` writes, from a hive (its --dir / --store arguments). */
export function exportLogs(where: string[], out: string, env: Record<string, string>, cwd?: string): Logs {
  const r = deia([...where, 'export', '--out', out], { env, cwd });
  expect(r.code, `${where.join(' ')}: export: ${r.stderr}`).toBe(0);
  return Object.fromEntries(LOGS.map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')])) as Logs;
}

/**
 * Every command deia 0.1 answered about a fixture, in the order it ran them, on another hive (its
 * --dir / --store arguments): each answers as deia 0.1 did, exit code included.
 */
let exported = 0;
export function answersAsRecorded(fx: Fixture, where: string[], label: string, cwd?: string): void {
  fx.answers.forEach((a) => {
    if (a.args[0] === 'export') {
      expect(exportLogs(where, path.join(fx.out, `export-${label}-${++exported}`), fx.env, cwd), `${label}: export`).toEqual(a.logs);
      return;
    }
    const r = deia([...where, ...a.args], { env: fx.env, cwd });
    expect(r.code, `${label}: ${a.args.join(' ')}: ${r.stderr}`).toBe(a.code);
    expect(JSON.parse(r.stdout), `${label}: ${a.args.join(' ')}`).toEqual(fx.recorded(a.args));
  });
}
