import { defineCommand } from '../command.js';
import { requireIdentity } from '../../hive.js';
import { Hive } from '../../index.js';
import { VERSION } from '../version.js';

export default defineCommand({
  name: 'mcp',
  summary: 'serve the hive to an AI agent over MCP (stdio), acting as one bot (--as or DEIA_BOT)',
  examples: ['deia mcp --as BOT-001', 'claude mcp add deia -- deia mcp --as BOT-001'],
  async exec(run) {
    const ctx = run.hive();
    const me = requireIdentity(ctx, 'deia mcp');
    const { serveStdio } = await import('../../mcp/server.js');
    await serveStdio(new Hive(ctx), me, VERSION);
  },
});
