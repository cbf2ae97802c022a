/** `deia hooks install / uninstall`: write (or take back) the harness's hook files and the docs block. */
import path from 'node:path';
import { UsageError } from '../common/errors.js';
import { findOnPath, readOutside, removeOutside, writeOutside } from '../store/outside.js';
import { HOOK_FILES, OPENCODE_MARKER, mergeHooks, opencodePlugin, unmergeHooks, type Harness } from './harness.js';
import { primeText } from './prime.js';

export interface InstallOptions {
  harness: Harness;
  global?: boolean;
  docs?: boolean;
  /** Project folder (default cwd) and home folder (for --global). */
  cwd: string;
  home: string;
  /** How hooks start deia: ['/abs/deia'] or [node, '/abs/bin/deia.js']. */
  deia: readonly string[];
}

export type FileAction = 'created' | 'updated' | 'unchanged' | 'removed';
export interface FileChange {
  path: string;
  action: FileAction;
}

/**
 * The deia that hooks should run: `deia` found on PATH (absolute, so the harness's own PATH
 * does not matter), else this very process's node and script. Never npx: a hook that
 * downloads a package on every prompt would cost seconds.
 */
export function resolveDeia(env: NodeJS.ProcessEnv, script: string | undefined, execPath: string): string[] {
  const onPath = findOnPath('deia', env);
  if (onPath) return [onPath];
  if (!script) throw new UsageError('cannot tell where the deia binary is', 'install deia so that `deia` is on PATH');
  return [execPath, path.resolve(script)];
}

const DOC_BEGIN = '<!-- deia:begin (written by `deia hooks install --docs`; `deia hooks uninstall --docs` removes it) -->';
const DOC_END = '<!-- deia:end -->';

function hookFile(o: Pick<InstallOptions, 'harness' | 'global' | 'cwd' | 'home'>): string {
  const f = HOOK_FILES[o.harness];
  return o.global ? path.join(o.home, f.global) : path.join(o.cwd, f.project);
}

function docsFile(o: Pick<InstallOptions, 'harness' | 'global' | 'cwd' | 'home'>): string {
  const name = o.harness === 'claude' ? 'CLAUDE.md' : 'AGENTS.md';
  if (!o.global) return path.join(o.cwd, name);
  if (o.harness === 'claude') return path.join(o.home, '.claude', name);
  if (o.harness === 'codex') return path.join(o.home, '.codex', name);
  if (o.harness === 'opencode') return path.join(o.home, '.config', 'opencode', name);
  throw new UsageError('Cursor has no user-level AGENTS.md', 'run `hooks install --docs` in the project, without --global');
}

function apply(file: string, before: string | undefined, after: string | undefined | null): FileChange {
  if (after === null || after === before) return { path: file, action: 'unchanged' };
  if (after === undefined) {
    removeOutside(file, { pruneDir: true });
    return { path: file, action: 'removed' };
  }
  writeOutside(file, after);
  return { path: file, action: before === undefined ? 'created' : 'updated' };
}

function hooksText(o: InstallOptions, file: string, before: string | undefined): string {
  if (o.harness !== 'opencode') return mergeHooks(o.harness, before, o.deia, file);
  if (before !== undefined && !before.startsWith(OPENCODE_MARKER)) {
    throw new UsageError(`${file} exists and was not written by deia`, 'move it aside; nothing was changed');
  }
  return opencodePlugin(o.deia);
}

/** Pure: the docs text with our block in it (replaced in place when already there). */
export function withDocsBlock(text: string | undefined, body: string): string {
  const block = `${DOC_BEGIN}\n${body.endsWith('\n') ? body : body + '\n'}${DOC_END}\n`;
  if (text === undefined || text === '') return block;
  const i = text.indexOf(DOC_BEGIN);
  const j = text.indexOf(DOC_END, i);
  if (i >= 0 && j >= 0) {
    let end = j + DOC_END.length;
    if (text[end] === '\n') end++;
    return text.slice(0, i) + block + text.slice(end);
  }
  return `${text}\n${block}`;
}

/** Pure: the docs text without our block (and the newline install put before it); undefined = file now empty. */
export function withoutDocsBlock(text: string | undefined): string | undefined | null {
  if (text === undefined) return null;
  const i = text.indexOf(DOC_BEGIN);
  const j = text.indexOf(DOC_END, i);
  if (i < 0 || j < 0) return null;
  let end = j + DOC_END.length;
  if (text[end] === '\n') end++;
  const start = i > 0 && text[i - 1] === '\n' ? i - 1 : i;
  const rest = text.slice(0, start) + text.slice(end);
  return rest === '' ? undefined : rest;
}

export function installHooks(o: InstallOptions): FileChange[] {
  const file = hookFile(o);
  // Compute everything before writing anything: a bad settings file changes nothing.
  const before = readOutside(file);
  const after = hooksText(o, file, before);
  let docs: { file: string; before: string | undefined; after: string } | undefined;
  if (o.docs) {
    const f = docsFile(o);
    const b = readOutside(f);
    docs = { file: f, before: b, after: withDocsBlock(b, primeText(undefined)) };
  }
  const out = [apply(file, before, after)];
  if (docs) out.push(apply(docs.file, docs.before, docs.after));
  return out;
}

export function uninstallHooks(o: Omit<InstallOptions, 'deia'>): FileChange[] {
  const file = hookFile(o);
  const before = readOutside(file);
  let after: string | undefined | null;
  if (o.harness === 'opencode') after = before !== undefined && before.startsWith(OPENCODE_MARKER) ? undefined : null;
  else after = unmergeHooks(o.harness, before, file);
  const out = [apply(file, before, after)];
  if (o.docs) {
    const f = docsFile(o);
    const b = readOutside(f);
    out.push(apply(f, b, withoutDocsBlock(b)));
  }
  return out;
}
