/**
 * `deia mcp`: a stdio MCP server on the official SDK, acting as one bot for its whole life.
 * Loaded only by this command (the SDK is left out of the CLI bundle and required from
 * node_modules here), so no other command pays for it.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isDeiaError } from '../common/errors.js';
import type { Hive } from '../index.js';
import { TOOLS, checkArgs, listEntry, type Args } from './tools.js';

const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/** The CLI's one-line error text, and its stable code, as an MCP tool error. */
export function toolError(e: unknown): CallToolResult {
  const err = isDeiaError(e) ? e : undefined;
  const message = err ? err.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
  const hint = err ? err.hint : 'report it with the steps that led here';
  const code = err ? err.code : 'EINTERNAL';
  const text = `deia: ${oneLine(message)}${hint ? ` (${oneLine(hint)})` : ''}`;
  return { isError: true, content: [{ type: 'text', text }], structuredContent: { error: { code, message, hint: hint ?? null } } };
}

export function createMcpServer(hive: Hive, me: string, version: string): Server {
  const server = new Server(
    { name: 'deia', version },
    { capabilities: { tools: {} }, instructions: `You are bot ${me} in a deia hive. Check mail with next/wait; P0/P1 first.` },
  );
  const byName = new Map(TOOLS.map((t) => [t.name, t] as const));
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS.map(listEntry) }));
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const tool = byName.get(req.params.name);
    try {
      if (!tool) throw new (await import('../common/errors.js')).UsageError(`unknown tool: ${req.params.name}`, `tools: ${[...byName.keys()].join(', ')}`);
      const args = (req.params.arguments ?? {}) as Args;
      checkArgs(tool, me, args);
      const result = await tool.run(hive, me, args);
      return { content: [{ type: 'text', text: JSON.stringify(result ?? null) }] };
    } catch (e) {
      return toolError(e);
    }
  });
  return server;
}

/** Serve on stdin/stdout until the client goes away. Resolves when the transport closes. */
export async function serveStdio(hive: Hive, me: string, version: string): Promise<void> {
  await hive.register(me);
  const server = createMcpServer(hive, me, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
}
