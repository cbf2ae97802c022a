import { afterEach, describe, expect, it } from 'vitest';
import { deia, tempHive } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';

const drops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const d of drops.splice(0)) await d();
});

/** Where the hive is: a folder (`dir`), or a fresh PostgreSQL database (`store`, from an empty folder). */
const places = {
  // 'file': a new folder named by `dir` (nothing planted: what users get); 'interface': a new folder named by file://.
  file: async () => {
    const { dir } = tempHive();
    return { where: { dir }, cli: ['--dir', dir] };
  },
  postgres: async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const { root } = tempHive();
    expect(deia(['init', '--store', db.url]).code).toBe(0);
    return { where: { store: db.url, cwd: root }, cli: ['--store', db.url] };
  },
  interface: async () => {
    const f = freshInterfaceFolder();
    drops.push(f.drop);
    return { where: { store: f.url, cwd: f.root }, cli: ['--store', f.url] };
  },
};

// The front door of DESIGN.md, through the built library (dist/lib/index.mjs), as a Node program uses it.
describe.each(['file', 'postgres', 'interface'] as const)('library API (openHive) on the %s backend', (kind) => {
  it('does what the commands do and returns their --json shapes', async () => {
    const { openHive } = await import(process.env.DEIA_TEST_LIB!);
    const { where, cli } = await places[kind]();
    let now = Date.parse('2026-11-25T12:00:00Z');
    const clock = () => now;
    const b2 = await openHive({ ...where, as: 'BOT-002', clock, env: {} });
    await b2.register('BOT-002');
    const b1 = await openHive({ ...where, as: 'BOT-001', clock, env: {} });
    const m = await b1.send({ to: 'BOT-002', body: 'hi', priority: 'P1' });
    expect(m).toMatchObject({ from_bot: 'BOT-001', to_bot: 'BOT-002', content: 'hi', priority: 'P1', status: 'delivered' });

    // The CLI in another process sees the same message.
    const listed = JSON.parse(deia([...cli, 'inbox', 'BOT-002', '--json']).stdout);
    expect(listed.map((x: { message_id: string }) => x.message_id)).toEqual([m.message_id]);

    const claimed = await b2.inbox({ next: true });
    expect(claimed).toMatchObject({ message_id: m.message_id, status: 'read' });
    expect(await b2.inbox({ next: true })).toBeNull();

    for (let i = 0; i < 10; i++) {
      now += 60_000;
      await b1.record({ bot: 'BOT-002', type: 'code', success: true, durationMs: 1200, tokens: 900 });
      await b1.record({ bot: 'BOT-001', type: 'code', success: i % 3 === 0, durationMs: 1500, tokens: 900 });
    }
    const rec = await b1.recommend({ type: 'code', greedy: true });
    expect(rec.task_type).toBe('code');
    expect(rec.recommended_bot).toBe('BOT-002');
    expect(rec.confidence).toBeGreaterThan(0.5);
    expect(rec.candidate_bots[0]).toMatchObject({ bot_id: 'BOT-002', samples: 10 });

    const h = await b1.health({ measure: false });
    expect(['HEALTHY', 'DEGRADED', 'CRITICAL', 'UNKNOWN']).toContain(h.level);
    expect(Array.isArray(h.bots)).toBe(true);

    // Tasks: submitted by one, worked by the other, seen by the CLI.
    const t = await b1.submitTask({ description: 'review the parser', type: 'code', to: 'BOT-002' });
    expect(t).toMatchObject({ status: 'assigned', bot_id: 'BOT-002' });
    expect(await b2.startTask(t.task_id)).toMatchObject({ status: 'in_progress' });
    expect(await b2.finishTask(t.task_id)).toMatchObject({ status: 'done' });
    expect(JSON.parse(deia([...cli, 'task', 'show', t.task_id, '--json']).stdout)).toMatchObject({ status: 'done', bot_id: 'BOT-002' });
    // The dashboard, started from the library, answers from the same hive (a folder or the store).
    const server = await b1.healthServe({ port: 0, host: '127.0.0.1' });
    try {
      const report = await (await fetch(server.url + 'health')).json();
      expect(report.bots.map((x: { bot_id: string }) => x.bot_id)).toContain('BOT-002');
    } finally {
      await server.close();
    }
  });
});
