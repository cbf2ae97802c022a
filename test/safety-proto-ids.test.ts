import { describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';

/**
 * Issue 12.3: bot ids and task types named after Object.prototype's properties are ids like
 * any other. Every command of the reproduction, in real processes, on one hive.
 */
/** Valid bot ids that are also Object.prototype's property names (`__proto__` fails the id pattern). */
export const PROTO_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'];

function ok(r: { code: number; stderr: string; stdout: string }, what: string) {
  expect(r.stderr, what).not.toMatch(/internal error|Cannot read|is not a function|native code/);
  expect(r.stdout, what).not.toMatch(/native code/);
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
}

describe('ids named after built-in object properties', () => {
  it('record, stats, recommend, health, health export, task submit, stats reset, scale all work', () => {
    const { dir } = tempHive('deia-proto-');
    expect(deia(['init'], { dir }).code).toBe(0);
    for (const bot of PROTO_NAMES) {
      ok(deia(['record', bot, 'code', '--success', '--duration', '1000'], { dir }), `record ${bot}`);
      ok(deia(['health', 'record', 'cpu', '10', '--bot', bot], { dir }), `health record ${bot}`);
    }
    const stats = deia(['stats', '--json'], { dir });
    ok(stats, 'stats');
    expect(stats.stdout).toContain('"constructor"');
    const rec = deia(['recommend', 'code', '--json'], { dir });
    ok(rec, 'recommend');
    const ids = JSON.parse(rec.stdout).candidate_bots.map((c: { bot_id: string }) => c.bot_id);
    for (const bot of PROTO_NAMES) expect(ids).toContain(bot);
    // Task types are open (any name passing the id rules): one named after a built-in property is
    // a type like any other, and `__proto__` (not an id) is refused.
    for (const t of PROTO_NAMES) {
      ok(deia(['record', 'BOT-1', t, '--success'], { dir }), `record BOT-1 ${t}`);
      const r = deia(['recommend', t, '--json'], { dir });
      ok(r, `recommend ${t}`);
      expect(JSON.parse(r.stdout).candidate_bots.map((c: { bot_id: string }) => c.bot_id)).toContain('BOT-1');
    }
    for (const args of [['recommend', '__proto__'], ['record', 'BOT-1', '__proto__', '--success'], ['task', 'submit', 'x', '--type', '__proto__', '--as', 'LEAD']]) {
      const r = deia(args, { dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^deia: invalid task type/);
    }
    const health = deia(['health', '--json'], { dir });
    expect(health.stderr).not.toMatch(/internal error|Cannot read/);
    expect([0, 1, 2]).toContain(health.code);
    const bots = JSON.parse(health.stdout).bots.map((b: { bot_id?: string; name: string }) => b.bot_id ?? b.name);
    for (const bot of PROTO_NAMES) expect(bots).toContain(bot);
    ok(deia(['health', 'export', '--json'], { dir }), 'health export');
    ok(deia(['task', 'submit', 'fix it', '--type', 'code', '--to', 'constructor', '--as', 'LEAD'], { dir }), 'task submit');
    ok(deia(['task', 'submit', 'other', '--type', 'code', '--to', 'toString', '--as', 'constructor'], { dir }), 'task submit by constructor');
    const scale = deia(['scale', '--json'], { dir });
    ok(scale, 'scale');
    for (const b of JSON.parse(scale.stdout).bots) expect(typeof b.load, b.bot_id).toBe('number');
    ok(deia(['stats', 'reset', '--bot', 'constructor'], { dir }), 'stats reset');
    ok(deia(['stats', '--json'], { dir }), 'stats after reset');
    ok(deia(['record', 'constructor', 'code', '--success'], { dir }), 'record after reset');
    ok(deia(['doctor'], { dir }), 'doctor');
  });

  it('messages between such bots are delivered and read', () => {
    const { dir } = tempHive('deia-proto-');
    for (const bot of PROTO_NAMES) ok(deia(['register', bot], { dir }), `register ${bot}`);
    const proto = deia(['register', '__proto__'], { dir });
    expect(proto.code).toBe(2);
    expect(proto.stderr).toMatch(/^deia: invalid bot id "__proto__"/);
    for (const bot of PROTO_NAMES) ok(deia(['send', bot, `hi ${bot}`, '--as', 'constructor', '--priority', 'P1'], { dir }), `send ${bot}`);
    for (const bot of PROTO_NAMES) {
      const r = deia(['inbox', bot, '--json'], { dir });
      ok(r, `inbox ${bot}`);
      expect(JSON.parse(r.stdout).map((m: { content: string }) => m.content)).toEqual([`hi ${bot}`]);
    }
    const status = deia(['status', '--json'], { dir });
    ok(status, 'status');
    ok(deia(['scale', '--json'], { dir }), 'scale');
  });
});
