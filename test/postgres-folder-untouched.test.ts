/**
 * A command on a PostgreSQL store keeps everything there: a hive folder that happens to be
 * around (the current folder's .deia/, where settings are read from) gets no presence files,
 * no mailboxes, nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, snapshotTree, tempHive } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';

describe('a PostgreSQL store and the folder around it', () => {
  const done: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of done.splice(0)) await f();
  });

  it('send, inbox, record, recommend, the task commands, health, bots and doctor on PostgreSQL write nothing into the .deia/ of the current folder', async () => {
    const db = await freshDatabase();
    done.push(db.drop);
    const h = tempHive();
    done.push(async () => fs.rmSync(h.root, { recursive: true, force: true }));
    expect(deia(['init', '--dir', h.dir]).code).toBe(0);
    expect(deia(['init', '--store', db.url]).code).toBe(0);
    const before = snapshotTree(h.dir);
    const opts = { cwd: h.root, env: { DEIA_STORE: db.url } };
    for (const args of [
      ['send', 'B', 'hello', '--as', 'A'],
      ['inbox', '--next', '--as', 'B'],
      ['record', 'B', 'code', '--success', '--as', 'B'],
      ['recommend', 'code', '--as', 'A'],
      ['task', 'submit', 'fix it', '--type', 'code', '--to', 'B', '--as', 'A'],
      ['task', 'list'],
      ['task', 'dispatch'],
      ['cleanup'],
      ['health', 'record', 'cpu', '50', '--as', 'B'],
      ['health', 'history', 'cpu', '--bot', 'B', '--as', 'A'],
      ['health', 'export', '--as', 'A'],
      ['health', 'reset', '--bot', 'B', '--as', 'A'],
      ['bots', '--as', 'A'],
      ['doctor', '--repair'],
    ]) {
      const r = deia(args, opts);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // The task's own steps, by the id submit printed.
    const id = JSON.parse(deia(['task', 'list', '--json'], opts).stdout)[0].task_id;
    for (const args of [['task', 'start', id, '--as', 'B'], ['task', 'done', id, '--as', 'B'], ['task', 'show', id]]) {
      const r = deia(args, opts);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // Whatever level this machine is at (it is measured): a level, not an error.
    const health = deia(['health', '--as', 'A'], opts);
    expect([0, 1, 2], health.stderr).toContain(health.code);
    expect(snapshotTree(h.dir)).toEqual(before);
    expect(fs.existsSync(path.join(h.dir, 'presence'))).toBe(false);
  });
});
