/**
 * The MCP tools: at most eight, each a thin call into the library (the same `Hive` the CLI
 * uses). Descriptions are short on purpose: the whole `tools/list` answer is what an agent
 * pays in context on every turn (see docs/agents.md for the measured size).
 *
 * Identity is bound when the server starts. No tool takes a bot to act as: an argument that
 * names one (`as`, `from`, `bot`, ...) is refused, never silently ignored, so a prompt-injected
 * call cannot speak for another bot.
 */
import { UsageError } from '../common/errors.js';
import type { Hive } from '../index.js';
import type { Priority } from '../messaging/types.js';

/** Argument names that would choose who acts: refused with EIDENTITY. */
export const IDENTITY_ARGS = new Set(['as', 'from', 'from_bot', 'bot', 'bot_id', 'identity', 'sender', 'as_bot', 'acting_as']);

export type Args = Record<string, unknown>;

/** Plain JSON Schema property specs (kept tiny: every byte is context for the agent). */
type Prop = { type: string; description?: string; enum?: string[]; items?: { type: string } };

export interface ToolDef {
  name: string;
  description: string;
  props: Record<string, Prop>;
  required?: string[];
  run(hive: Hive, me: string, a: Args): Promise<unknown>;
}

const PRIO: Prop = { type: 'string', enum: ['P0', 'P1', 'P2', 'P3'] };
/** Longest `wait`: under the usual harness tool timeout (60 s in Codex), so the call returns first. */
export const MAX_WAIT_SECONDS = 50;

const str = (a: Args, k: string): string | undefined => {
  const v = a[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new UsageError(`${k} must be a string`);
  return v;
};
const num = (a: Args, k: string): number | undefined => {
  const v = a[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${k} must be a number`);
  return v;
};
const need = <T>(v: T | undefined, k: string): T => {
  if (v === undefined) throw new UsageError(`missing argument: ${k}`);
  return v;
};

export const TOOLS: ToolDef[] = [
  {
    name: 'send',
    description: 'Send a message to a bot (or @all). P0 urgent .. P3 low, default P2.',
    props: { to: { type: 'string' }, body: { type: 'string' }, priority: PRIO, subject: { type: 'string' }, reply_to: { type: 'string' }, ttl: { type: 'number', description: 'seconds' } },
    required: ['to', 'body'],
    async run(hive, _me, a) {
      const to = need(str(a, 'to'), 'to');
      const input = { to, body: need(str(a, 'body'), 'body'), priority: str(a, 'priority') as Priority | undefined, subject: str(a, 'subject'), reply_to: str(a, 'reply_to'), ttl: num(a, 'ttl') };
      const sent = await hive.sendMany([input]);
      // After the send, which validated the recipient.
      const known = to === '@all' || (await hive.hasInbox(to));
      return to === '@all' ? sent : { ...sent[0], recipient_known: known };
    },
  },
  {
    name: 'next',
    description: 'Claim your top unread message (each is handed out once). Null if none.',
    props: { priority: PRIO },
    async run(hive, me, a) {
      return hive.inbox({ bot: me, next: true, priority: str(a, 'priority') as Priority | undefined });
    },
  },
  {
    name: 'wait',
    description: `Block until a message arrives, then claim it. Null on timeout (max ${MAX_WAIT_SECONDS}s).`,
    props: { seconds: { type: 'number', description: 'default 25' }, priority: PRIO },
    async run(hive, me, a) {
      const s = num(a, 'seconds') ?? 25;
      if (s < 0 || s > MAX_WAIT_SECONDS) throw new UsageError(`seconds must be between 0 and ${MAX_WAIT_SECONDS} (got ${s})`, 'call wait again to keep waiting');
      return hive.inbox({ bot: me, next: true, wait: s, priority: str(a, 'priority') as Priority | undefined });
    },
  },
  {
    name: 'inbox',
    description: 'List your unread messages without claiming them, P0 first.',
    props: { all: { type: 'boolean', description: 'read ones too' }, limit: { type: 'number' }, priority: PRIO },
    async run(hive, me, a) {
      return hive.inbox({ bot: me, all: a.all === true, limit: num(a, 'limit') ?? 20, priority: str(a, 'priority') as Priority | undefined });
    },
  },
  {
    name: 'task',
    description: 'Tasks: list yours, submit, or start/done/fail one by id.',
    props: {
      action: { type: 'string', enum: ['list', 'submit', 'start', 'done', 'fail'] },
      id: { type: 'string' },
      description: { type: 'string', description: 'submit' },
      type: { type: 'string', description: 'submit' },
      reason: { type: 'string', description: 'fail' },
      retry: { type: 'boolean', description: 'fail: requeue' },
      tokens: { type: 'number' },
    },
    required: ['action'],
    async run(hive, me, a) {
      const action = need(str(a, 'action'), 'action');
      const id = () => need(str(a, 'id'), 'id');
      switch (action) {
        case 'list':
          return (await hive.listTasks({ bot: me })).filter((t) => t.status === 'assigned' || t.status === 'in_progress');
        case 'submit':
          return hive.submitTask({ description: need(str(a, 'description'), 'description'), type: str(a, 'type') });
        case 'start':
          return hive.startTask(id());
        case 'done':
          return hive.finishTask(id(), { tokens: num(a, 'tokens') });
        case 'fail':
          return hive.failTask(id(), { reason: str(a, 'reason'), tokens: num(a, 'tokens'), retry: a.retry === true });
        default:
          throw new UsageError(`unknown task action: ${action}`, 'use list, submit, start, done or fail');
      }
    },
  },
  {
    name: 'record',
    description: 'Record the outcome of work you did, so routing learns.',
    props: { type: { type: 'string' }, success: { type: 'boolean' }, duration_ms: { type: 'number' }, tokens: { type: 'number' } },
    required: ['type', 'success'],
    async run(hive, me, a) {
      if (typeof a.success !== 'boolean') throw new UsageError('success must be true or false');
      return hive.record({ bot: me, type: need(str(a, 'type'), 'type'), success: a.success, durationMs: num(a, 'duration_ms'), tokens: num(a, 'tokens') });
    },
  },
  {
    name: 'recommend',
    description: 'Best bot for a task type or a free-text task.',
    props: { type: { type: 'string' }, task: { type: 'string' } },
    async run(hive, _me, a) {
      return hive.recommend({ type: str(a, 'type'), task: str(a, 'task') });
    },
  },
  {
    name: 'health',
    description: 'Hive health: overall level, per component and bot, with advice.',
    props: {},
    async run(hive) {
      return hive.health();
    },
  },
];

/** The `tools/list` entry of a tool: plain JSON Schema, no `$schema`, nothing repeated. */
export function listEntry(t: ToolDef) {
  return {
    name: t.name,
    description: t.description,
    inputSchema: { type: 'object' as const, properties: t.props, ...(t.required ? { required: t.required } : {}) },
  };
}

/** Refuse arguments that would pick an identity, or that the tool does not know. */
export function checkArgs(t: ToolDef, me: string, a: Args): void {
  for (const k of Object.keys(a)) {
    if (IDENTITY_ARGS.has(k)) {
      throw new UsageError(
        `this server acts as ${me} only; argument "${k}" cannot choose another bot`,
        'start one `deia mcp --as BOT` per bot',
        'EIDENTITY',
      );
    }
    if (!Object.hasOwn(t.props, k)) throw new UsageError(`${t.name}: unknown argument "${k}"`, `known: ${Object.keys(t.props).join(', ') || 'none'}`);
  }
}
