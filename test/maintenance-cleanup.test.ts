import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, readJsonl, snapshotTree, tempHive } from './helpers/cli.js';

/** A new hive folder (the storage interface's layout, which `deia init` marks with layout.json). */
function hiveWith(config: Record<string, unknown> = {}) {
  const { dir } = tempHive();
  expect(deia(['init'], { dir }).code).toBe(0);
  expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  for (const [k, v] of Object.entries(config)) {
    const [s, key] = k.split('.');
    cfg[s!][key!] = v;
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

function old(p: string, ms = 3_600_000) {
  const t = new Date(Date.now() - ms);
  fs.utimesSync(p, t, t);
}

const bigLog = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ event: 'message_queued', i, pad: 'x'.repeat(40) })).join('\n') + '\n';

describe('deia cleanup', () => {
  it('rotates audit logs past log_max_bytes, keeping log_generations, and logs cleanup_completed', () => {
    const dir = hiveWith({ 'cleanup.log_max_bytes': 1024, 'cleanup.log_generations': 2 });
    const log = path.join(dir, 'bot-messaging.jsonl');
    const sched = path.join(dir, 'adaptive-scheduling.jsonl');
    for (let round = 1; round <= 3; round++) {
      fs.appendFileSync(log, bigLog(40).replace(/"i":/g, `"round":${round},"i":`));
      fs.writeFileSync(sched, bigLog(40));
      const r = deia(['cleanup', '--json'], { dir });
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout);
      expect(res.rotated.map((x: any) => x.log).sort()).toEqual(['adaptive-scheduling.jsonl', 'bot-messaging.jsonl']);
      expect(res.changed).toBe(true);
    }
    // generations: .1 holds round 3, .2 round 2; round 1 dropped; never a .3
    expect(fs.existsSync(path.join(dir, 'bot-messaging.3.jsonl'))).toBe(false);
    const g1 = readJsonl(path.join(dir, 'bot-messaging.1.jsonl'));
    const g2 = readJsonl(path.join(dir, 'bot-messaging.2.jsonl'));
    expect(g1.filter((r) => r.round !== undefined).every((r) => r.round === 3)).toBe(true);
    expect(g2.filter((r) => r.round !== undefined).every((r) => r.round === 2)).toBe(true);
    const current = readJsonl(log);
    expect(current).toHaveLength(1);
    expect(current[0]).toMatchObject({ event: 'cleanup_completed', message_id: null, details: { rotated: expect.any(Array) } });
    expect(Object.keys(current[0]).sort()).toEqual(
      ['details', 'event', 'from_bot', 'message_id', 'priority', 'status', 'timestamp', 'to_bot'].sort(),
    );
  });

  it('removes stale locks and dead writers\' old temp files, and keeps live ones', () => {
    // Lock folders the storage interface's layout really takes: a queue's and a document's.
    const staleLock = 'queues/inbox.B1.jsonl.lock';
    const liveLock = 'docs/outbox.json.lock';
    const dir = hiveWith({});
    fs.mkdirSync(path.join(dir, path.dirname(staleLock)), { recursive: true });
    fs.mkdirSync(path.join(dir, staleLock));
    old(path.join(dir, staleLock));
    fs.mkdirSync(path.join(dir, path.dirname(liveLock)), { recursive: true });
    fs.mkdirSync(path.join(dir, liveLock)); // fresh: a live holder
    const deadTmp = 'tasks.jsonl.999999.1.3.abcdef.tmp';
    const freshDeadTmp = 'tasks.jsonl.999998.1.3.abcdef.tmp';
    const liveTmp = `tasks.jsonl.${process.pid}.1.3.abcdef.tmp`;
    for (const f of [deadTmp, freshDeadTmp, liveTmp]) fs.writeFileSync(path.join(dir, f), 'x');
    old(path.join(dir, deadTmp));
    old(path.join(dir, liveTmp));
    fs.writeFileSync(path.join(dir, 'config.json.123456789'), '{}');
    old(path.join(dir, 'config.json.123456789'));

    const r = deia(['cleanup', '--json'], { dir });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.locks_removed.map((l: any) => l.path)).toEqual([staleLock]);
    expect(res.temp_removed.map((t: any) => t.path).sort()).toEqual(['config.json.123456789', deadTmp].sort());
    expect(fs.existsSync(path.join(dir, staleLock))).toBe(false);
    expect(fs.existsSync(path.join(dir, liveLock))).toBe(true);
    expect(fs.existsSync(path.join(dir, freshDeadTmp))).toBe(true);
    expect(fs.existsSync(path.join(dir, liveTmp))).toBe(true);
    fs.rmdirSync(path.join(dir, liveLock));
    // Still the layout it started in.
    expect(fs.existsSync(path.join(dir, 'layout.json'))).toBe(true);
  });

  it('--dry-run reports the work and changes nothing; a second run right after does nothing', () => {
    const dir = hiveWith({ 'cleanup.log_max_bytes': 1024 });
    fs.writeFileSync(path.join(dir, 'health-alerts.jsonl'), bigLog(40));
    fs.mkdirSync(path.join(dir, 'metrics.jsonl.lock'));
    old(path.join(dir, 'metrics.jsonl.lock'));
    fs.writeFileSync(path.join(dir, 'metrics.jsonl.999999.1.1.abcdef.tmp'), 'x');
    old(path.join(dir, 'metrics.jsonl.999999.1.1.abcdef.tmp'));

    const before = snapshotTree(dir);
    const dry = deia(['cleanup', '--dry-run', '--json'], { dir });
    expect(dry.code, dry.stderr).toBe(0);
    const d = JSON.parse(dry.stdout);
    expect(d).toMatchObject({ dry_run: true, changed: true });
    expect(d.rotated).toHaveLength(1);
    expect(d.locks_removed).toHaveLength(1);
    expect(d.temp_removed).toHaveLength(1);
    expect(snapshotTree(dir)).toEqual(before);
    expect(fs.existsSync(path.join(dir, 'metrics.jsonl.lock'))).toBe(true);
    const human = deia(['cleanup', '--dry-run'], { dir });
    expect(human.stdout).toMatch(/would remove metrics\.jsonl\.lock/);
    expect(human.stdout).toMatch(/nothing was changed/);

    const first = JSON.parse(deia(['cleanup', '--json'], { dir }).stdout);
    expect(first.changed).toBe(true);
    const after = snapshotTree(dir);
    const second = deia(['cleanup', '--json'], { dir });
    expect(JSON.parse(second.stdout)).toMatchObject({ changed: false, rotated: [], locks_removed: [], temp_removed: [] });
    expect(snapshotTree(dir)).toEqual(after);
    expect(deia(['cleanup'], { dir }).stdout).toMatch(/nothing to do/);
    expect(deia(['doctor'], { dir }).code).toBe(0);
  });

  it('on a missing hive names the path, exits 1 (cron notices) and creates nothing', () => {
    const { dir } = tempHive();
    const r = deia(['cleanup', '--json'], { dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`hive not found at ${dir}`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('is in the library API', async () => {
    const dir = hiveWith();
    const lib = await import(process.env.DEIA_TEST_LIB!);
    const hive = await lib.openHive({ dir });
    const res = await hive.cleanup({ dryRun: true });
    expect(res).toMatchObject({ dry_run: true, changed: false });
    const doc = await hive.doctor();
    expect(doc).toMatchObject({ ok: true, exists: true });
  });
});

describe('deia cleanup: idempotency keys', () => {
  it('drops keys past messaging.key_retention_hours, so the same key later sends anew', () => {
    const dir = hiveWith({ 'messaging.key_retention_hours': 1 });
    const t0 = '2026-01-01T00:00:00Z';
    expect(deia(['register', 'BOT-B'], { dir, env: { DEIA_NOW: t0 } }).code).toBe(0);
    const first = deia(['send', 'BOT-B', 'hello', '--key', 'k1', '--as', 'BOT-A'], { dir, env: { DEIA_NOW: t0 } });
    const again = deia(['send', 'BOT-B', 'hello', '--key', 'k1', '--as', 'BOT-A'], { dir, env: { DEIA_NOW: t0 } });
    expect(again.stdout).toBe(first.stdout); // same id: nothing sent twice
    const dry = JSON.parse(deia(['cleanup', '--dry-run', '--json'], { dir, env: { DEIA_NOW: '2026-01-01T02:00:00Z' } }).stdout);
    expect(dry.key_retention).toMatchObject({ dropped: 1 });
    const r = JSON.parse(deia(['cleanup', '--json'], { dir, env: { DEIA_NOW: '2026-01-01T02:00:00Z' } }).stdout);
    expect(r.key_retention).toMatchObject({ files: 1, dropped: 1, kept: 0 });
    const later = deia(['send', 'BOT-B', 'hello', '--key', 'k1', '--as', 'BOT-A'], { dir, env: { DEIA_NOW: '2026-01-01T02:00:00Z' } });
    expect(later.code).toBe(0);
    expect(later.stdout).not.toBe(first.stdout);
  });
});

describe('deia cleanup: health samples', () => {
  it('moves samples past health.metrics_retention_hours to archive/metrics.jsonl and keeps the recent ones', () => {
    const dir = hiveWith({ 'health.metrics_retention_hours': 1, 'health.measure_system': false });
    const at = (iso: string) => ({ DEIA_NOW: iso });
    for (const [t, v] of [['2026-01-01T00:00:00Z', 10], ['2026-01-01T00:30:00Z', 20], ['2026-01-01T02:30:00Z', 30]] as const) {
      expect(deia(['health', 'record', 'cpu', String(v), '--bot', 'BOT-1'], { dir, env: at(t) }).code).toBe(0);
    }
    const now = at('2026-01-01T03:00:00Z');
    const dry = JSON.parse(deia(['cleanup', '--dry-run', '--json'], { dir, env: now }).stdout);
    expect(dry.metrics_retention).toEqual({ dropped: 2 });
    expect(readJsonl(path.join(dir, 'metrics.jsonl'))).toHaveLength(3);

    const r = JSON.parse(deia(['cleanup', '--json'], { dir, env: now }).stdout);
    expect(r.metrics_retention).toEqual({ dropped: 2 });
    expect(readJsonl(path.join(dir, 'metrics.jsonl')).map((s) => s.value)).toEqual([30]);
    expect(readJsonl(path.join(dir, 'archive/metrics.jsonl')).map((s) => s.value)).toEqual([10, 20]);
    // The health aggregates refold from the rewritten file: the kept sample is still the bot's cpu.
    const h = JSON.parse(deia(['health', '--json', '--bot', 'BOT-1'], { dir, env: now }).stdout);
    const cpu = h.bots.find((b: any) => b.bot_id === 'BOT-1' || b.name === 'BOT-1')?.metrics.find((m: any) => m.metric === 'cpu');
    expect(cpu?.value).toBe(30);
    const again = JSON.parse(deia(['cleanup', '--json'], { dir, env: now }).stdout);
    expect(again.metrics_retention).toEqual({ dropped: 0 });
  });
});
