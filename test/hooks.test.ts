import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deia, mainPath, snapshotTree, tempHive } from './helpers/cli.js';
import { makeFolderLayout } from './helpers/folder-layout.js';

const T0 = Date.parse('2026-11-28T10:00:00Z');
const at = (s: number) => String(T0 + s * 1000);

function project() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-hooks-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deia-home-'));
  return { root, home, dir: path.join(root, '.deia') };
}

function hook(event: string, harness: string, payload: unknown, opts: { cwd: string; env?: Record<string, string>; now?: number }) {
  return deia(['hook', event, '--harness', harness], {
    cwd: opts.cwd,
    input: typeof payload === 'string' ? payload : JSON.stringify(payload),
    env: { DEIA_NOW: at(opts.now ?? 0), ...opts.env },
  });
}

const install = (root: string, home: string, ...args: string[]) => deia(['hooks', 'install', ...args], { cwd: root, env: { HOME: home } });
const uninstall = (root: string, home: string, ...args: string[]) => deia(['hooks', 'uninstall', ...args], { cwd: root, env: { HOME: home } });

describe('hooks install / uninstall', () => {
  it('claude: merges into settings.json keeping the user hooks; twice changes nothing; uninstall restores the bytes', () => {
    const { root, home } = project();
    const file = path.join(root, '.claude/settings.json');
    fs.mkdirSync(path.dirname(file));
    const original =
      JSON.stringify(
        {
          permissions: { allow: ['Bash(npm test)'] },
          hooks: {
            PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'echo pre' }] }],
            Stop: [{ hooks: [{ type: 'command', command: './my-stop.sh' }] }],
          },
        },
        null,
        2,
      ) + '\n';
    fs.writeFileSync(file, original);
    const r = install(root, home, '--harness', 'claude');
    expect(r.code, r.stderr).toBe(0);
    const after = fs.readFileSync(file, 'utf8');
    const s = JSON.parse(after);
    expect(s.permissions).toEqual({ allow: ['Bash(npm test)'] });
    expect(s.hooks.PreToolUse).toEqual([{ matcher: 'Bash', hooks: [{ type: 'command', command: 'echo pre' }] }]);
    expect(s.hooks.Stop[0]).toEqual({ hooks: [{ type: 'command', command: './my-stop.sh' }] });
    const ours = (ev: string) => s.hooks[ev].flatMap((g: any) => g.hooks.map((h: any) => h.command)).filter((c: string) => c.includes(' hook '));
    expect(ours('SessionStart')).toEqual([expect.stringMatching(/ hook session-start --harness claude$/)]);
    expect(ours('UserPromptSubmit')).toEqual([expect.stringMatching(/ hook prompt --harness claude$/)]);
    expect(ours('Stop')).toEqual([expect.stringMatching(/ hook stop --harness claude$/)]);
    expect(after).not.toContain('npx');
    // The hook command runs this deia (absolute paths), not whatever a PATH lookup finds later.
    expect(ours('Stop')[0]).toContain(path.basename(mainPath()));

    expect(install(root, home, '--harness', 'claude').code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(after);
    const u = uninstall(root, home, '--harness', 'claude');
    expect(u.code, u.stderr).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(original);
  });

  it('claude --global writes ~/.claude/settings.json; a file install created is removed again', () => {
    const { root, home } = project();
    expect(install(root, home, '--harness', 'claude', '--global').code).toBe(0);
    const file = path.join(home, '.claude/settings.json');
    expect(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).hooks)).toEqual(['SessionStart', 'UserPromptSubmit', 'Stop']);
    expect(fs.existsSync(path.join(root, '.claude'))).toBe(false);
    expect(uninstall(root, home, '--harness', 'claude', '--global').code).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('codex: .codex/hooks.json with a 4-space indent is kept as the user wrote it', () => {
    const { root, home } = project();
    const file = path.join(root, '.codex/hooks.json');
    fs.mkdirSync(path.dirname(file));
    const original = JSON.stringify({ hooks: { SessionStart: [{ matcher: 'startup', hooks: [{ type: 'command', command: 'say hi' }] }] } }, null, 4) + '\n';
    fs.writeFileSync(file, original);
    expect(install(root, home, '--harness', 'codex').code).toBe(0);
    const after = fs.readFileSync(file, 'utf8');
    expect(after).toContain('\n    "hooks"');
    const s = JSON.parse(after);
    expect(s.hooks.SessionStart).toHaveLength(2);
    expect(s.hooks.SessionStart[0]).toEqual({ matcher: 'startup', hooks: [{ type: 'command', command: 'say hi' }] });
    expect(install(root, home, '--harness', 'codex').code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(after);
    expect(uninstall(root, home, '--harness', 'codex').code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(original);
  });

  it('cursor: version 1 hooks.json, user hooks kept, uninstall restores', () => {
    const { root, home } = project();
    const file = path.join(root, '.cursor/hooks.json');
    fs.mkdirSync(path.dirname(file));
    const original = JSON.stringify({ version: 1, hooks: { afterFileEdit: [{ command: './format.sh' }], stop: [{ command: './notify.sh' }] } }, null, 2) + '\n';
    fs.writeFileSync(file, original);
    expect(install(root, home, '--harness', 'cursor').code).toBe(0);
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(s.version).toBe(1);
    expect(s.hooks.afterFileEdit).toEqual([{ command: './format.sh' }]);
    expect(s.hooks.stop[0]).toEqual({ command: './notify.sh' });
    expect(s.hooks.stop[1].command).toMatch(/ hook stop --harness cursor$/);
    expect(s.hooks.sessionStart[0].command).toMatch(/ hook session-start --harness cursor$/);
    expect(uninstall(root, home, '--harness', 'cursor').code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(original);
  });

  it('opencode: a plugin file that loads, is replaced by a reinstall, and refuses to overwrite a foreign one', () => {
    const { root, home } = project();
    expect(install(root, home, '--harness', 'opencode').code).toBe(0);
    const file = path.join(root, '.opencode/plugins/deia.js');
    const text = fs.readFileSync(file, 'utf8');
    const check = spawnSync(process.execPath, ['--input-type=module', '--check'], { input: text });
    expect(check.status, check.stderr?.toString()).toBe(0);
    expect(text).toContain("'hook', event, '--harness', 'opencode'");
    expect(install(root, home, '--harness', 'opencode').code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(uninstall(root, home, '--harness', 'opencode').code).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'export const Mine = async () => ({});\n');
    const r = install(root, home, '--harness', 'opencode');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deia: .*deia\.js exists and was not written by deia \(move it aside; nothing was changed\)\n$/);
    expect(fs.readFileSync(file, 'utf8')).toBe('export const Mine = async () => ({});\n');
  });

  it('a settings file that is not JSON is left alone with a one-line error', () => {
    const { root, home } = project();
    const file = path.join(root, '.claude/settings.json');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, '{ "hooks": ');
    const r = install(root, home, '--harness', 'claude');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deia: .*settings\.json is not valid JSON .*\(fix it or move it aside; nothing was changed\)\n$/);
    expect(fs.readFileSync(file, 'utf8')).toBe('{ "hooks": ');
  });

  it('--docs writes deia prime between markers into CLAUDE.md / AGENTS.md, idempotent and removable', () => {
    const { root, home } = project();
    const agents = path.join(root, 'AGENTS.md');
    const original = '# Project\n\nRun `make test`.\n';
    fs.writeFileSync(agents, original);
    expect(install(root, home, '--harness', 'codex', '--docs').code).toBe(0);
    const after = fs.readFileSync(agents, 'utf8');
    expect(after.startsWith(original)).toBe(true);
    expect(after).toMatch(/<!-- deia:begin[^\n]*-->\n# deia: coordinating with other bots\n[\s\S]*<!-- deia:end -->\n$/);
    expect(install(root, home, '--harness', 'codex', '--docs').code).toBe(0);
    expect(fs.readFileSync(agents, 'utf8')).toBe(after);
    expect(uninstall(root, home, '--harness', 'codex', '--docs').code).toBe(0);
    expect(fs.readFileSync(agents, 'utf8')).toBe(original);
    expect(install(root, home, '--harness', 'claude', '--docs').code).toBe(0);
    expect(fs.readFileSync(path.join(root, 'CLAUDE.md'), 'utf8')).toContain('deia inbox --next');
    expect(uninstall(root, home, '--harness', 'claude', '--docs').code).toBe(0);
    expect(fs.existsSync(path.join(root, 'CLAUDE.md'))).toBe(false);
  });

  it('deia prime fits in 1.5 KB', () => {
    const r = deia(['prime', '--as', 'BOT-A-VERY-LONG-NAME-0123456789']);
    expect(r.code).toBe(0);
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1536);
    expect(r.stdout).toContain('BOT-A-VERY-LONG-NAME-0123456789');
  });
});

describe('deia hook: the payloads each harness sends', () => {
  it('claude: session start registers the session bot and injects; prompt injects news once, throttled; stop blocks once', () => {
    const { root, dir } = project();
    expect(deia(['init'], { dir }).code).toBe(0);
    const envFile = path.join(root, 'claude-env.sh');
    fs.writeFileSync(envFile, '');
    const base = { session_id: '9f3c2b1a-0000-4c8e-9a51-7d2f3e4b5c6d', transcript_path: path.join(root, 't.jsonl'), cwd: root, permission_mode: 'default' };
    const start = hook('session-start', 'claude', { ...base, hook_event_name: 'SessionStart', source: 'startup' }, { cwd: os.tmpdir(), env: { CLAUDE_ENV_FILE: envFile } });
    expect(start.code).toBe(0);
    const out = JSON.parse(start.stdout);
    expect(out.hookSpecificOutput.hookEventName).toBe('SessionStart');
    expect(out.hookSpecificOutput.additionalContext).toMatch(/^deia: you are bot claude-9f3c2b1a in the hive at /);
    expect(fs.readFileSync(envFile, 'utf8')).toBe('export DEIA_BOT=claude-9f3c2b1a\n');
    const bots = JSON.parse(deia(['bots', '--json'], { dir, env: { DEIA_NOW: at(1) } }).stdout).bots;
    expect(bots).toEqual([expect.objectContaining({ bot_id: 'claude-9f3c2b1a', last_seen: new Date(T0).toISOString(), stale: false })]);

    const prompt = (now: number) => hook('prompt', 'claude', { ...base, hook_event_name: 'UserPromptSubmit', prompt: 'go on' }, { cwd: root, now });
    expect(prompt(2).stdout).toBe(''); // nothing new
    expect(deia(['send', 'claude-9f3c2b1a', 'deploy is broken', '--as', 'OPS', '--priority', 'P0'], { dir, env: { DEIA_NOW: at(3) } }).code).toBe(0);
    expect(prompt(5).stdout).toBe(''); // news, but within the throttle window
    const p = JSON.parse(prompt(15).stdout);
    expect(p.hookSpecificOutput.hookEventName).toBe('UserPromptSubmit');
    expect(p.hookSpecificOutput.additionalContext).toMatch(/1 unread for claude-9f3c2b1a \(P0 1\)[\s\S]*- \[P0\] \w{8} from OPS, 12s ago: deploy is broken/);
    expect(prompt(40).stdout).toBe(''); // told already

    const stop = (active: boolean) => hook('stop', 'claude', { ...base, hook_event_name: 'Stop', stop_hook_active: active }, { cwd: root, now: 50 });
    const s = JSON.parse(stop(false).stdout);
    expect(s.decision).toBe('block');
    expect(s.reason).toMatch(/^1 unread P0\/P1 message for claude-9f3c2b1a \(first from OPS\)\. Read it before stopping: `.+ inbox --next --as claude-9f3c2b1a`$/);
    expect(stop(true).stdout).toBe('');
    expect(deia(['inbox', '--next', '--as', 'claude-9f3c2b1a'], { dir }).code).toBe(0);
    expect(stop(false).stdout).toBe('');
  });

  it('codex: the same hooks.json protocol, identity from DEIA_BOT when set', () => {
    const { root, dir } = project();
    deia(['init'], { dir });
    deia(['send', 'CODEX-1', 'review PR 12', '--as', 'LEAD', '--priority', 'P1'], { dir });
    deia(['register', 'CODEX-1'], { dir });
    const base = { session_id: '0199a0b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b', transcript_path: null, cwd: root, model: 'gpt-5-codex' };
    const env = { DEIA_BOT: 'CODEX-1' };
    const start = JSON.parse(hook('session-start', 'codex', { ...base, hook_event_name: 'SessionStart', source: 'startup' }, { cwd: root, env }).stdout);
    expect(start.hookSpecificOutput.additionalContext).toMatch(/you are bot CODEX-1[\s\S]*\[P1\] \w{8} from LEAD/);
    const stop = hook('stop', 'codex', { ...base, hook_event_name: 'Stop', turn_id: 't1', stop_hook_active: false, last_assistant_message: 'done' }, { cwd: root, env });
    expect(JSON.parse(stop.stdout)).toMatchObject({ decision: 'block', reason: expect.stringContaining('inbox --next --as CODEX-1') });
  });

  it('cursor: sessionStart gets additional_context, stop a followup_message only on the first loop', () => {
    const { root, dir } = project();
    deia(['init'], { dir });
    const base = { conversation_id: 'c0ffee12-3456-7890-abcd-ef0123456789', generation_id: 'g1', model: 'auto', cursor_version: '1.7.0', workspace_roots: [root], user_email: null };
    const start = hook('session-start', 'cursor', { ...base, hook_event_name: 'sessionStart', is_background_agent: false, composer_mode: 'agent' }, { cwd: os.tmpdir() });
    expect(JSON.parse(start.stdout).additional_context).toMatch(/you are bot cursor-c0ffee12/);
    deia(['send', 'cursor-c0ffee12', 'urgent', '--as', 'OPS', '--priority', 'P0'], { dir });
    const stop = (loop: number) => hook('stop', 'cursor', { ...base, hook_event_name: 'stop', status: 'completed', loop_count: loop }, { cwd: os.tmpdir() });
    expect(JSON.parse(stop(0).stdout).followup_message).toMatch(/inbox --next --as cursor-c0ffee12/);
    expect(stop(1).stdout).toBe('');
  });

  it('opencode: the plugin payload gets {context} and {block}', () => {
    const { root, dir } = project();
    deia(['init'], { dir });
    const base = { session_id: 'ses_7a8b9c0d1e2f', cwd: root };
    expect(JSON.parse(hook('session-start', 'opencode', { ...base, hook_event_name: 'session.created' }, { cwd: root }).stdout).context).toMatch(/you are bot opencode-ses7a8b9/);
    deia(['send', 'opencode-ses7a8b9', 'hi', '--as', 'OPS', '--priority', 'P1'], { dir });
    expect(JSON.parse(hook('stop', 'opencode', { ...base, hook_event_name: 'session.idle', stop_hook_active: false }, { cwd: root }).stdout).block).toMatch(/1 unread P0\/P1/);
  });

  it('without a session id the bot id is stable for the folder', () => {
    const { root, dir } = project();
    deia(['init'], { dir });
    const a = JSON.parse(hook('session-start', 'claude', { cwd: root }, { cwd: root }).stdout).hookSpecificOutput.additionalContext;
    const b = JSON.parse(hook('session-start', 'claude', 'not json at all', { cwd: root }).stdout).hookSpecificOutput.additionalContext;
    const id = /you are bot (claude-[0-9a-f]{8}) /.exec(a)![1];
    expect(b).toContain(`you are bot ${id} `);
  });

  it('fails open: an unreadable hive, or none, makes every hook exit 0 with nothing on stdout', () => {
    const broken = project();
    fs.mkdirSync(broken.dir);
    fs.writeFileSync(path.join(broken.dir, 'config.json'), '{ not json');
    // A hive folder in deia 0.1's layout, which this deia runs only after a one-time upgrade
    // (other commands refuse it with EOLDLAYOUT): a hook neither upgrades it nor gets in the agent's way.
    const oldLayout = project();
    makeFolderLayout(oldLayout.dir);
    const oldBefore = snapshotTree(oldLayout.dir);
    expect(deia(['inbox', '--as', 'X', '--json'], { dir: oldLayout.dir })).toMatchObject({ code: 1, stdout: expect.stringContaining('EOLDLAYOUT') });
    // A new hive whose inboxes' folder is a file.
    const fileAsQueues = project();
    expect(deia(['init'], { dir: fileAsQueues.dir }).code).toBe(0);
    expect(fs.existsSync(path.join(fileAsQueues.dir, 'layout.json'))).toBe(true);
    fs.rmSync(path.join(fileAsQueues.dir, 'queues'), { recursive: true, force: true });
    fs.writeFileSync(path.join(fileAsQueues.dir, 'queues'), 'this should be a folder');
    const none = project();
    const payload = { session_id: 'abc12345', cwd: '', stop_hook_active: false, loop_count: 0 };
    for (const [hive, p] of Object.entries({ broken, oldLayout, fileAsQueues, none })) {
      for (const harness of ['claude', 'codex', 'cursor', 'opencode']) {
        for (const event of ['session-start', 'prompt', 'stop']) {
          const r = hook(event, harness, { ...payload, cwd: p.root, workspace_roots: [p.root] }, { cwd: p.root });
          expect({ hive, harness, event, code: r.code, stdout: r.stdout }).toEqual({ hive, harness, event, code: 0, stdout: '' });
        }
      }
    }
    expect(fs.existsSync(none.dir)).toBe(false);
    expect(snapshotTree(oldLayout.dir)).toEqual(oldBefore);
    // An unknown harness or event is not an error for the agent either.
    expect(hook('stop', 'vim', payload, { cwd: none.root })).toMatchObject({ code: 0, stdout: '' });
    expect(hook('teardown', 'claude', payload, { cwd: none.root })).toMatchObject({ code: 0, stdout: '' });
  });
});
