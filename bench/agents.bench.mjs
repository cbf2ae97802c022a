// Agents: an MCP `send` round trip against a running `deia mcp` vs the CLI `deia send` (a
// process per message), and the wall time of each harness hook (target < 150 ms each).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deia, deiaBin, median, nodeBaseline, tempHive, timeProcess } from './lib.mjs';

export const title = 'agents';

const RUNS = 21;

export async function run() {
  const h = tempHive();
  const d = ['--dir', h.hive];
  const rows = [];
  const client = new Client({ name: 'deia-bench', version: '1.0.0' });
  try {
    deia(['init', ...d]);
    deia(['register', 'BOT-B', ...d]);
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [deiaBin, 'mcp', '--as', 'BOT-A', ...d] }));
    const mcpSend = async () => {
      const t0 = process.hrtime.bigint();
      const r = await client.callTool({ name: 'send', arguments: { to: 'BOT-B', body: 'tests are green' } });
      if (r.isError) throw new Error(r.content[0].text);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const cliSend = () => deia(['send', 'BOT-B', 'tests are green', '--as', 'BOT-A', ...d]);
    for (let i = 0; i < 3; i++) (await mcpSend(), cliSend());
    const a = [];
    const b = [];
    for (let i = 0; i < RUNS; i++) {
      a.push(cliSend());
      b.push(await mcpSend());
    }
    rows.push({ name: 'MCP send round trip (server running)', baseline: 'deia send (CLI)', a: median(a), b: median(b), ratio: median(b) / median(a), target: 0.5 });

    // Hooks: each event with a payload as the harness sends it, a few messages waiting.
    for (let i = 0; i < 5; i++) deia(['send', 'claude-9f3c2b1a', `note ${i}`, '--as', 'BOT-A', '--priority', i ? 'P2' : 'P1', ...d]);
    const payload = { session_id: '9f3c2b1a-0000-4c8e-9a51-7d2f3e4b5c6d', cwd: h.dir, stop_hook_active: false };
    const env = { ...process.env, NO_COLOR: '1', DEIA_DIR: h.hive, DEIA_BOT: '' };
    for (const event of ['session-start', 'prompt', 'stop']) {
      const input = JSON.stringify({ ...payload, hook_event_name: event });
      const once = () => timeProcess(process.execPath, [deiaBin, 'hook', event, '--harness', 'claude'], { input, env });
      once();
      // Alternated with bare `node -e 0`, so a loaded machine shows as such in the baseline column.
      const base = [];
      const ts = [];
      for (let i = 0; i < RUNS; i++) (base.push(nodeBaseline()), ts.push(once()));
      rows.push({ name: `hook ${event} (claude)`, baseline: 'node -e 0', a: median(base), b: median(ts), value: median(ts), unit: 'ms', target: 150 });
    }
  } finally {
    await client.close().catch(() => undefined);
    h.cleanup();
  }
  return rows;
}
