/**
 * What `deia hooks install` writes for each harness, as pure text-in/text-out functions:
 * merge our entries into a settings file (keeping every user hook and the file's indent),
 * and take exactly ours out again. "Ours" = a handler whose command runs `deia hook <event>
 * --harness <name>`, wherever the deia binary lives.
 */
import { UsageError } from '../common/errors.js';

export const HARNESSES = ['claude', 'codex', 'cursor', 'opencode'] as const;
export type Harness = (typeof HARNESSES)[number];
export const HOOK_EVENTS = ['session-start', 'prompt', 'stop'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export function parseHarness(s: unknown): Harness {
  const v = String(s ?? '').toLowerCase();
  if ((HARNESSES as readonly string[]).includes(v)) return v as Harness;
  throw new UsageError(`unknown harness: ${JSON.stringify(s ?? '')}`, `use --harness ${HARNESSES.join('|')}`);
}

/** Where each harness reads hooks: relative to the project, and to the home folder (--global). */
export const HOOK_FILES: Record<Harness, { project: string; global: string }> = {
  claude: { project: '.claude/settings.json', global: '.claude/settings.json' },
  codex: { project: '.codex/hooks.json', global: '.codex/hooks.json' },
  cursor: { project: '.cursor/hooks.json', global: '.cursor/hooks.json' },
  opencode: { project: '.opencode/plugins/deia.js', global: '.config/opencode/plugins/deia.js' },
};

/** The harness's own event names for ours (Cursor has no prompt hook that can add context). */
export const EVENT_NAMES: Record<Exclude<Harness, 'opencode'>, Partial<Record<HookEvent, string>>> = {
  claude: { 'session-start': 'SessionStart', prompt: 'UserPromptSubmit', stop: 'Stop' },
  codex: { 'session-start': 'SessionStart', prompt: 'UserPromptSubmit', stop: 'Stop' },
  cursor: { 'session-start': 'sessionStart', stop: 'stop' },
};

/** Quote for a POSIX shell only when needed. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function hookCommand(deia: readonly string[], event: HookEvent, harness: Harness): string {
  return [...deia.map(shellQuote), 'hook', event, '--harness', harness].join(' ');
}

// Ours whatever path deia was installed at: the command ends with exactly what hookCommand appends.
const OURS = /\shook (session-start|prompt|stop) --harness (claude|codex|cursor|opencode)$/;
export function isOurCommand(cmd: unknown): boolean {
  return typeof cmd === 'string' && OURS.test(cmd);
}

type Json = Record<string, any>;

/** The indent a JSON file uses (first indented line), so a rewrite keeps the user's style. */
function indentOf(text: string): string | number {
  const m = /\n([ \t]+)\S/.exec(text);
  return m ? m[1]! : 2;
}

function parseSettings(text: string | undefined, file: string): Json {
  if (text === undefined || text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON (${(e as Error).message})`, 'fix it or move it aside; nothing was changed');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${file} does not hold a JSON object`, 'fix it or move it aside; nothing was changed');
  return v as Json;
}

function serialize(obj: Json, original: string | undefined): string {
  const nl = original === undefined || original.endsWith('\n') ? '\n' : '';
  return JSON.stringify(obj, null, original === undefined ? 2 : indentOf(original)) + nl;
}

/**
 * Merge our hooks into a Claude Code / Codex settings text (`hooks.<Event>: [{hooks: [{type, command}]}]`)
 * or a Cursor hooks.json (`version: 1, hooks.<event>: [{command}]`). Returns the new text;
 * equal to the input when everything is already there.
 */
export function mergeHooks(harness: Exclude<Harness, 'opencode'>, text: string | undefined, deia: readonly string[], file: string): string {
  const obj = parseSettings(text, file);
  if (harness === 'cursor' && obj.version === undefined) obj.version = 1;
  if (obj.hooks !== undefined && (obj.hooks === null || typeof obj.hooks !== 'object' || Array.isArray(obj.hooks))) {
    throw new UsageError(`${file}: "hooks" is not an object`, 'fix it or move it aside; nothing was changed');
  }
  const hooks: Json = (obj.hooks ??= {});
  let changed = text === undefined;
  for (const [event, name] of Object.entries(EVENT_NAMES[harness]) as Array<[HookEvent, string]>) {
    const cmd = hookCommand(deia, event, harness);
    const list: any[] = Array.isArray(hooks[name]) ? hooks[name] : (hooks[name] = []);
    const handlers = harness === 'cursor' ? list : list.flatMap((g) => (Array.isArray(g?.hooks) ? g.hooks : []));
    const mine = handlers.filter((h) => isOurCommand(h?.command));
    if (mine.length > 0) {
      // Already installed: only a moved deia binary changes anything.
      for (const h of mine) if (h.command !== cmd) ((h.command = cmd), (changed = true));
      continue;
    }
    list.push(harness === 'cursor' ? { command: cmd } : { hooks: [{ type: 'command', command: cmd, timeout: 10 }] });
    changed = true;
  }
  return changed ? serialize(obj, text) : text!;
}

/**
 * Take our hooks out again, and the containers that only held them. A file that is left
 * with nothing else (what install created) comes back as `undefined`: delete it.
 */
export function unmergeHooks(harness: Exclude<Harness, 'opencode'>, text: string | undefined, file: string): string | undefined | null {
  if (text === undefined) return null; // nothing to do
  const obj = parseSettings(text, file);
  const hooks = obj.hooks;
  if (!hooks || typeof hooks !== 'object') return null;
  let changed = false;
  for (const name of Object.values(EVENT_NAMES[harness])) {
    const list = hooks[name];
    if (!Array.isArray(list)) continue;
    const kept: unknown[] = [];
    for (const g of list) {
      if (harness === 'cursor') {
        if (isOurCommand(g?.command)) changed = true;
        else kept.push(g);
        continue;
      }
      if (!Array.isArray(g?.hooks)) {
        kept.push(g);
        continue;
      }
      const rest = g.hooks.filter((h: any) => !isOurCommand(h?.command));
      if (rest.length === g.hooks.length) kept.push(g);
      else {
        changed = true;
        if (rest.length > 0) kept.push({ ...g, hooks: rest });
      }
    }
    if (kept.length === 0) delete hooks[name];
    else hooks[name] = kept;
  }
  if (!changed) return null;
  if (Object.keys(hooks).length === 0) delete obj.hooks;
  const keys = Object.keys(obj);
  if (keys.length === 0 || (harness === 'cursor' && keys.length === 1 && obj.version === 1)) return undefined;
  return serialize(obj, text);
}

/** The OpenCode plugin: OpenCode runs JS plugins, not commands, so ours spawns `deia hook`. */
export const OPENCODE_MARKER = '// deia-hooks: written by `deia hooks install --harness opencode`';

export function opencodePlugin(deia: readonly string[]): string {
  return `${OPENCODE_MARKER}; \`deia hooks uninstall\` removes it.
import { spawnSync } from 'node:child_process';

const DEIA = ${JSON.stringify(deia)};

// Runs \`deia hook <event> --harness opencode\` with a JSON payload; any failure means "nothing to do".
function hook(event, payload) {
  try {
    const r = spawnSync(DEIA[0], [...DEIA.slice(1), 'hook', event, '--harness', 'opencode'], { input: JSON.stringify(payload), encoding: 'utf8', timeout: 5000 });
    return r.status === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : {};
  } catch {
    return {};
  }
}

export const DeiaPlugin = async ({ client, directory }) => {
  const blocked = new Set();
  const say = async (id, text, noReply) => {
    try {
      await client.session.prompt({ path: { id }, body: { noReply, parts: [{ type: 'text', text }] } });
    } catch {}
  };
  return {
    event: async ({ event }) => {
      if (event.type === 'session.created') {
        const id = event.properties?.info?.id;
        const out = hook('session-start', { hook_event_name: 'session.created', session_id: id, cwd: directory });
        if (id && out.context) await say(id, out.context, true);
      } else if (event.type === 'session.idle') {
        const id = event.properties?.sessionID;
        const out = hook('stop', { hook_event_name: 'session.idle', session_id: id, cwd: directory, stop_hook_active: blocked.has(id) });
        if (id && out.block) {
          blocked.add(id);
          await say(id, out.block, false);
        } else blocked.delete(id);
      }
    },
    'chat.message': async (input) => {
      const id = input?.sessionID;
      const out = hook('prompt', { hook_event_name: 'chat.message', session_id: id, cwd: directory });
      if (id && out.context) await say(id, out.context, true);
    },
  };
};
`;
}
