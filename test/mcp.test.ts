import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { deia, deiaAsync, mainPath, tempHive, type CliResult } from './helpers/cli.js';
import { freshDatabase } from './helpers/pg.js';
import { freshInterfaceFolder } from './helpers/interface-folder.js';

// The SDK's own client talks to real `deia mcp` child processes over stdio.
const open: Client[] = [];

/** A hive for one test: a folder, or a fresh PostgreSQL database (run from an empty folder). */
interface Place {
  args: string[];
  cwd: string;
  cli: (args: string[], input?: string) => CliResult;
  cliAsync: (args: string[]) => Promise<CliResult>;
}
const drops: Array<() => Promise<void>> = [];
const places = {
  // 'file': a new folder named by --dir (nothing planted: what users get); 'interface': a new folder named by file://.
  file: async (): Promise<Place> => {
    const { root, dir } = tempHive();
    return { args: ['--dir', dir], cwd: root, cli: (a, input) => deia(a, { dir, input }), cliAsync: (a) => deiaAsync(a, { dir }) };
  },
  postgres: async (): Promise<Place> => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const { root } = tempHive();
    fs.mkdirSync(root, { recursive: true });
    const store = ['--store', db.url];
    expect(deia(['init', ...store], { cwd: root }).code).toBe(0);
    return { args: store, cwd: root, cli: (a, input) => deia([...store, ...a], { cwd: root, input }), cliAsync: (a) => deiaAsync([...store, ...a], { cwd: root }) };
  },
  interface: async (): Promise<Place> => {
    const f = freshInterfaceFolder();
    drops.push(f.drop);
    const store = ['--store', f.url];
    return { args: store, cwd: f.root, cli: (a, input) => deia([...store, ...a], { cwd: f.root, input }), cliAsync: (a) => deiaAsync([...store, ...a], { cwd: f.root }) };
  },
};

async function server(h: Place, bot: string | undefined, env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [mainPath(), 'mcp', ...h.args, ...(bot ? ['--as', bot] : [])],
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
    cwd: h.cwd,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'deia-test', version: '1.0.0' });
  await client.connect(transport);
  open.push(client);
  return client;
}

type Result = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any };
async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<{ res: Result; value: any }> {
  const res = (await c.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as Result;
  const text = res.content[0]?.text ?? '';
  return { res, value: res.isError ? text : JSON.parse(text) };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  for (const d of drops.splice(0)) await d();
});

describe.each(['file', 'postgres', 'interface'] as const)('deia mcp on the %s backend', (kind) => {
  const make = places[kind];
  it('lists at most 8 tools in under 6 KB of JSON', async () => {
    const h = await make();
    const c = await server(h, 'A');
    const list = await c.listTools();
    expect(list.tools.length).toBeLessThanOrEqual(8);
    expect(list.tools.map((t) => t.name).sort()).toEqual(['health', 'inbox', 'next', 'recommend', 'record', 'send', 'task', 'wait']);
    expect(Buffer.byteLength(JSON.stringify(list))).toBeLessThan(6 * 1024);
  });

  it('two servers with different identities exchange messages', async () => {
    const h = await make();
    const a = await server(h, 'A');
    const b = await server(h, 'B');
    const sent = await call(a, 'send', { to: 'B', body: 'ping', priority: 'P1' });
    expect(sent.value).toMatchObject({ from_bot: 'A', to_bot: 'B', content: 'ping', status: 'delivered', recipient_known: true });
    const got = await call(b, 'next');
    expect(got.value).toMatchObject({ message_id: sent.value.message_id, from_bot: 'A', content: 'ping' });
    await call(b, 'send', { to: 'A', body: 'pong', reply_to: got.value.message_id });
    const back = await call(a, 'inbox');
    expect(back.value.map((m: any) => [m.from_bot, m.content, m.reply_to])).toEqual([['B', 'pong', sent.value.message_id]]);
    expect((await call(b, 'next')).value).toBeNull();
  });

  it('four servers claim 100 messages concurrently, each exactly once', async () => {
    const h = await make();
    const input = Array.from({ length: 100 }, (_, i) => JSON.stringify({ to: 'W', body: `job ${i}` })).join('\n');
    expect(h.cli(['register', 'W']).code).toBe(0);
    expect(h.cli(['send', '--stdin-jsonl', '--as', 'BOSS'], input).code).toBe(0);
    const workers = await Promise.all([1, 2, 3, 4].map(() => server(h, 'W')));
    const claimed = await Promise.all(
      workers.map(async (w) => {
        const mine: string[] = [];
        for (;;) {
          const { value } = await call(w, 'next');
          if (value === null) return mine;
          mine.push(value.content);
        }
      }),
    );
    const all = claimed.flat();
    expect(all.length).toBe(100);
    expect(new Set(all).size).toBe(100);
    expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1);
  });

  it('wait wakes on a send from a third process', async () => {
    const h = await make();
    const w = await server(h, 'W');
    const waiting = call(w, 'wait', { seconds: 40 });
    await new Promise((r) => setTimeout(r, 700));
    const t0 = Date.now();
    const sent = await h.cliAsync(['send', 'W', 'wake up', '--as', 'THIRD', '--priority', 'P0']);
    expect(sent.code).toBe(0);
    const { value } = await waiting;
    expect(value).toMatchObject({ from_bot: 'THIRD', content: 'wake up', priority: 'P0' });
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('record, recommend, task and health tools work the hive as the CLI does', async () => {
    const h = await make();
    const a = await server(h, 'A');
    expect((await call(a, 'record', { type: 'code', success: true, duration_ms: 500 })).value).toMatchObject({ recorded: 1 });
    expect(JSON.parse(h.cli(['stats', '--json']).stdout)).toEqual([expect.objectContaining({ bot_id: 'A', task_type: 'code', samples: 1 })]);
    expect((await call(a, 'recommend', { type: 'code' })).value).toMatchObject({ task_type: 'code', recommended_bot: 'A' });
    const t = JSON.parse(h.cli(['task', 'submit', 'write the docs', '--type', 'code', '--to', 'A', '--as', 'LEAD', '--json']).stdout);
    expect((await call(a, 'task', { action: 'list' })).value).toEqual([expect.objectContaining({ task_id: t.task_id, status: 'assigned' })]);
    expect((await call(a, 'task', { action: 'start', id: t.task_id })).value).toMatchObject({ status: 'in_progress' });
    expect((await call(a, 'task', { action: 'done', id: t.task_id, tokens: 10 })).value).toMatchObject({ task_id: t.task_id, status: 'done' });
    expect(JSON.parse(h.cli(['task', 'show', t.task_id, '--json']).stdout)).toMatchObject({ status: 'done', bot_id: 'A' });
    expect(['HEALTHY', 'DEGRADED', 'CRITICAL', 'UNKNOWN']).toContain((await call(a, 'health')).value.level);
  });

  it('refuses a tool call that names another bot, as a tool error with a stable code', async () => {
    const h = await make();
    const a = await server(h, 'A');
    h.cli(['register', 'B']);
    for (const [tool, args] of [
      ['send', { to: 'B', body: 'forged', from: 'C' }],
      ['record', { type: 'code', success: true, bot: 'C' }],
      ['next', { as: 'B' }],
    ] as const) {
      const { res } = await call(a, tool, args);
      expect(res.isError).toBe(true);
      expect(res.content[0]!.text).toMatch(/^deia: this server acts as A only; argument "\w+" cannot choose another bot \(/);
      expect(res.structuredContent.error.code).toBe('EIDENTITY');
    }
    // Nothing was sent as anyone, and B's mail was not touched.
    const inbox = JSON.parse(h.cli(['inbox', 'B', '--json']).stdout);
    expect(inbox).toEqual([]);
  });

  it('library errors come back with the CLI text and code', async () => {
    const h = await make();
    const a = await server(h, 'A');
    const { res } = await call(a, 'send', { to: 'bad id!', body: 'x' });
    expect(res.isError).toBe(true);
    expect(res.content[0]!.text).toMatch(/^deia: invalid recipient "bad id!" \(/);
    expect(res.structuredContent.error.code).toBe('EUSAGE');
    const unknownRecipient = await call(a, 'send', { to: 'NOBODY', body: 'hello?' });
    expect(unknownRecipient.value).toMatchObject({ status: 'pending', recipient_known: false });
  });

  it('refuses to start without an identity', async () => {
    const h = await make();
    const r = h.cli(['mcp']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deia: deia mcp needs to know which bot you are \(pass --as BOT or set DEIA_BOT \(or AGENT_NAME\)\)\n$/);
  });
});
