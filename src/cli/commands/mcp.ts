import { defineCommand } from '../command.js';
import { requireIdentity } from '../../hive.js';
import { Hive } from '../../index.js';
import { VERSION } from '../version.js';

export default defineCommand({
  name: 'mcp',
  summary: 'serve the hive to an AI agent over MCP (stdio), acting as one bot (--as or DEIA_BOT)',
  postgres: true,
  examples: ['deia mcp --as BOT-001', 'claude mcp add deia -- deia mcp --as BOT-001'],
  async exec(run) {
    const ctx = run.hive();
    const me = requireIdentity(ctx, 'deia mcp');
    const { serveStdio } = await import('../../mcp/server.js');
    await serveStdio(new Hive(ctx), me, VERSION);
    // The client is gone: a tool call still waiting for mail (its timer, its file watch) must
    // not keep a server nobody can talk to alive for up to a minute.
    setTimeout(() => process.exit(0), 200).unref();
  },
});
