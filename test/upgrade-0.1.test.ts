/**
 * A hive folder deia 0.1 made (test/fixtures/hive-0.1/), as this deia meets one: every command but
 * doctor, export and migrate refuses it, in one line that says the one command that upgrades it
 * (EOLDLAYOUT), and changes nothing; the library's openHive refuses it too; `deia doctor` reports
 * it as the problem `old_layout` and `deia doctor --repair` upgrades it in place, after which the
 * same --dir answers every command deia 0.1 answered about it as deia 0.1 did.
 * (`deia migrate --upgrade` and `migrate --to`: test/migrate.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, snapshotTree } from './helpers/cli.js';
import { answersAsRecorded, exportLogs, fixture as hive01, FIXTURE_NAMES, type FixtureName } from './helpers/hive-0.1.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
const fixture = (name: FixtureName) => hive01(name, cleanups);

/** What a command says about a 0.1 folder at `dir`: one line, the upgrade to run. */
const refusal = (dir: string) =>
  `deia: ${dir} is a hive folder in deia 0.1's layout: this deia runs it after a one-time upgrade (stop the bots that use it, then run once: deia --dir ${dir} migrate --upgrade; deia doctor --repair does the same)\n`;

describe('a folder deia 0.1 made, before its upgrade', () => {
  it('every command but doctor, export and migrate refuses it in one line naming the upgrade (EOLDLAYOUT under --json), and changes nothing', () => {
    const fx = fixture('messaging');
    const { root, dir, env } = fx;
    const before = snapshotTree(dir);
    const commands = [
      ['send', 'B', 'hi', '--as', 'A'],
      ['send', 'NEWBOT', 'hi', '--as', 'A', '--key', 'k1'],
      ['status'],
      ['inbox', '--as', 'B'],
      ['inbox', 'B', '--next', '--lease', '5m', '--as', 'W3'],
      ['ack', fx.ids.leased, '--inbox', 'B', '--as', 'W1'],
      ['register', 'NEW'],
      ['init'],
      ['bots'],
      ['cleanup'],
      ['deliver'],
      ['task', 'submit', 'x', '--type', 'code', '--to', 'B', '--as', 'A'],
      ['task', 'list'],
      ['record', 'B', 'code', '--success', '--duration', '1s'],
      ['stats'],
      ['recommend', 'code'],
      ['health'],
      ['health', 'record', 'cpu', '10', '--bot', 'B'],
    ];
    for (const args of commands) {
      // `deia health` exits as a monitoring check does: 3 (unknown) for any error of its own (docs/cli.md).
      const code = args[0] === 'health' && args.length === 1 ? 3 : 1;
      const r = deia(['--dir', dir, ...args], { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toBe(refusal(dir));
      expect(r.stdout, args.join(' ')).toBe('');
      const j = deia(['--dir', dir, ...args, '--json'], { env });
      expect(j.code, `${args.join(' ')} --json: ${j.stderr}`).toBe(code);
      expect(j.stderr, `${args.join(' ')} --json`).toBe(refusal(dir));
      expect(JSON.parse(j.stdout), `${args.join(' ')} --json`).toEqual({
        error: {
          code: 'EOLDLAYOUT',
          message: `${dir} is a hive folder in deia 0.1's layout: this deia runs it after a one-time upgrade`,
          hint: `stop the bots that use it, then run once: deia --dir ${dir} migrate --upgrade; deia doctor --repair does the same`,
        },
      });
    }
    // Found the other ways a command finds its hive: DEIA_DIR, the current folder's .deia.
    const viaEnv = deia(['status'], { env: { ...env, DEIA_DIR: dir } });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toBe(refusal(dir));
    const viaCwd = deia(['inbox', '--as', 'B'], { env, cwd: root });
    expect(viaCwd.code).toBe(1);
    expect(viaCwd.stderr).toBe(refusal(path.join(fs.realpathSync(root), '.deia'))); // the folder as the current folder names it
    expect(snapshotTree(dir)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['.deia']);
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(false);
  }, 120_000);

  it("the library's openHive refuses it too (EOLDLAYOUT), and changes nothing", async () => {
    const fx = fixture('routing');
    const before = snapshotTree(fx.dir);
    const { openHive } = await import(process.env.DEIA_TEST_LIB!);
    const now = Date.parse(fx.now);
    const use = async () => {
      const hive = await openHive({ dir: fx.dir, as: 'A', clock: () => now, env: {} });
      await hive.send({ to: 'B', body: 'hi' });
    };
    await expect(use()).rejects.toMatchObject({
      code: 'EOLDLAYOUT',
      message: `${fx.dir} is a hive folder in deia 0.1's layout: this deia runs it after a one-time upgrade`,
      hint: expect.stringContaining(`deia --dir ${fx.dir} migrate --upgrade`),
    });
    expect(snapshotTree(fx.dir)).toEqual(before);
  });

  it('export still reads it, as deia 0.1 did, and changes nothing', () => {
    for (const name of FIXTURE_NAMES) {
      const fx = fixture(name);
      const before = snapshotTree(fx.dir);
      expect(exportLogs(['--dir', fx.dir], path.join(fx.out, 'export'), fx.env), name).toEqual(fx.recorded(['export']));
      expect(snapshotTree(fx.dir), name).toEqual(before);
    }
  }, 120_000);
});

describe('deia doctor on a folder deia 0.1 made', () => {
  it('reports old_layout (exit 1, nothing changed); --repair upgrades it in place, and the same --dir answers every recorded command as deia 0.1 did', () => {
    for (const name of FIXTURE_NAMES) {
      const fx = fixture(name);
      const { root, dir, env } = fx;
      const before = snapshotTree(dir);
      const found = deia(['--dir', dir, 'doctor', '--json'], { env });
      expect(found.code, `${name}: ${found.stderr}`).toBe(1);
      const report = JSON.parse(found.stdout);
      expect(report.problems, name).toEqual([
        {
          kind: 'old_layout',
          path: '.',
          detail: "deia 0.1's folder layout: other commands refuse it until it is upgraded",
          repaired: false,
          action: 'stop the bots that use it, then: deia doctor --repair (or deia migrate --upgrade)',
        },
      ]);
      expect(report).toMatchObject({ ok: false, repaired: 0 });
      const text = deia(['--dir', dir, 'doctor'], { env });
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^old_layout +\. +deia 0\.1's folder layout: other commands refuse it until it is upgraded$/m);
      expect(snapshotTree(dir), name).toEqual(before);
      expect(fs.readdirSync(root)).toEqual(['.deia']);

      const repaired = deia(['--dir', dir, 'doctor', '--repair', '--json'], { env });
      expect(repaired.code, `${name}: ${repaired.stderr}`).toBe(0);
      const r = JSON.parse(repaired.stdout);
      expect(r, name).toMatchObject({ ok: true, repaired: 1, problems: [{ kind: 'old_layout', repaired: true, action: expect.stringMatching(/^upgraded in place; the old files are kept in \S+\.deia\.folder-layout-\S+ \(delete it once the hive works\)$/) }] });
      const kept = /kept in (\S+) \(/.exec(r.problems[0].action)![1]!;
      expect(snapshotTree(kept), name).toEqual(before); // the old files, as they were
      expect(fs.readdirSync(root).sort()).toEqual(['.deia', path.basename(kept)].sort());
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'layout.json'), 'utf8'))).toEqual({ layout: 'records', version: 1 });
      expect(fs.existsSync(path.join(dir, 'mailboxes'))).toBe(false);

      answersAsRecorded(fx, ['--dir', dir], `${name} repaired`);
      const after = deia(['--dir', dir, 'doctor', '--json'], { env });
      expect(after.code, `${name}: ${after.stdout}`).toBe(0);
      expect(JSON.parse(after.stdout)).toMatchObject({ ok: true, problems: [] });
      ok(deia(['--dir', dir, 'send', 'B', 'after the upgrade', '--as', 'A'], { env }), `${name}: send`);
    }
  }, 240_000);
});

function ok(r: { code: number; stderr: string }, what: string): void {
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
}
