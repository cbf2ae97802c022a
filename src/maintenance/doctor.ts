import { CONFIG_FILE, parseConfigText } from '../config/index.js';
import type { HiveContext } from '../hive.js';
import { readText, tempInfo, walk } from '../store/inspect.js';
import { LAYOUT_FILE } from '../store/file/layout.js';
import { isPostgresUrl } from '../store/postgres/url.js';
import { checkConfigFile, checkEntries, checkJsonl, isJsonl } from './doctor-files.js';
import { emptyDoctorResult, MAX_LISTED_PER_FILE, type DoctorResult, type Problem } from './doctor-report.js';
import type { DeiaError } from '../common/errors.js';

export type { DoctorResult, Problem, ProblemKind } from './doctor-report.js';

/**
 * Check the hive folder: config validity, every JSONL file parses, stale locks, orphan
 * temp files, world-writable entries, symbolic links. With `repair`, fix what is safe:
 * corrupt and torn lines move to NAME.corrupt.jsonl through a store rewrite (never
 * deleted), stale locks and dead writers' temp files are removed, world-write is taken
 * away. Takes one file's lock at a time.
 */

export async function doctor(ctx: HiveContext, opts: { repair?: boolean } = {}): Promise<DoctorResult> {
  const repair = Boolean(opts.repair);
  const pg = postgresChoice(ctx);
  if (pg) return (await import('./doctor-postgres.js')).doctorPostgres(ctx, pg, repair);
  if (ctx.storeChoice.kind === 'interface') return (await import('./doctor-interface.js')).doctorInterface(ctx, repair);
  const { store } = ctx;
  const result = emptyDoctorResult(ctx.dir, store.exists(), { kind: 'file', schema_version: null, schema_expected: null, not_applicable: [] }, repair);
  if (!result.exists) return result;

  // 1. config.json; 2. locks, temp files, permissions, links.
  const staleMs = checkConfigFile(ctx, result).store.lock_stale_ms;
  const entries = walk(store);
  await checkEntries(ctx, entries, staleMs, repair, result);

  // 3. Every JSONL file parses; mailboxes, archive and audit log are cross-checked on the way.
  const audit = new AuditCheck();
  for (const e of entries) {
    if (e.kind !== 'file' || !isJsonl(e.rel) || tempInfo(e.rel)) continue;
    await checkJsonl(ctx, e, repair, result, audit.visitor(e.rel));
  }
  audit.finish(result);
  await checkOldLayout(ctx, repair, result);

  result.repaired = result.problems.filter((p) => p.repaired).length;
  result.ok = result.problems.every((p) => p.repaired);
  return result;
}

/**
 * A folder deia 0.1 made is a problem of its own: no other command runs it. --repair upgrades it
 * in place (after the repairs above, which clear the stale locks an upgrade would wait for), as
 * `deia migrate --upgrade` does; a hive in use is left as it is, with what to do.
 */
async function checkOldLayout(ctx: HiveContext, repair: boolean, result: DoctorResult): Promise<void> {
  const problem: Problem = {
    kind: 'old_layout',
    path: '.',
    detail: "deia 0.1's folder layout: other commands refuse it until it is upgraded",
    repaired: false,
    action: 'stop the bots that use it, then: deia doctor --repair (or deia migrate --upgrade)',
  };
  result.problems.push(problem);
  if (!repair) return;
  if (result.problems.some((p) => p !== problem && !p.repaired)) {
    problem.action = 'not upgraded: fix the problems above first';
    return;
  }
  try {
    const up = await (await import('./upgrade.js')).upgradeInPlace(ctx);
    problem.repaired = true;
    problem.action = `upgraded in place; the old files are kept in ${up.kept_as} (delete it once the hive works)`;
  } catch (e) {
    const err = e as DeiaError;
    problem.action = `not upgraded: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  }
}

/**
 * The PostgreSQL store to check, if one is chosen: by --store / DEIA_STORE, or by `store.url` in
 * config.json (doctor opens the hive ignoring config.json, so that a broken one is reported: the
 * URL is read here, and a config that does not parse leaves the folder to be checked).
 */
function postgresChoice(ctx: HiveContext): string | undefined {
  if (ctx.storeChoice.kind === 'postgres') return ctx.storeChoice.url;
  // --store / DEIA_STORE named a folder (a path or a file:// URL). A folder chosen by its own
  // layout.json still defers to store.url, as it does for every other command (hive.ts).
  const c = ctx.storeChoice;
  if (c.kind === 'interface' ? c.from !== LAYOUT_FILE : c.dir !== undefined) return undefined;
  const text = readText(ctx.store, CONFIG_FILE);
  if (text === undefined) return undefined;
  try {
    const url = parseConfigText(text, CONFIG_FILE).store.url?.trim();
    return url && isPostgresUrl(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

const MAILBOX = /^mailboxes\/([^/]+)\.jsonl$/;
const ARCHIVE = /^archive\/mailboxes\/([^/]+)\.jsonl$/;
const AUDIT_LOG = /^bot-messaging(?:\.\d+)?\.jsonl$/;

/** Messaging's files as it writes them: mailbox lines {t:'msg', m}, archived messages, audit events. */
class AuditCheck {
  private readonly held = new Set<string>();
  private readonly archived = new Set<string>();
  private readonly delivered = new Map<string, string>();
  private mailboxes = 0;
  private inMailboxes = 0;

  visitor(rel: string): ((r: any) => void) | undefined {
    if (MAILBOX.test(rel)) {
      this.mailboxes++;
      return (r) => {
        if (r?.t === 'msg' && typeof r.m?.message_id === 'string') {
          this.held.add(r.m.message_id);
          this.inMailboxes++;
        }
      };
    }
    if (ARCHIVE.test(rel)) {
      return (r) => {
        const id = typeof r?.message_id === 'string' ? r.message_id : r?.m?.message_id;
        if (typeof id === 'string') this.archived.add(id);
      };
    }
    if (AUDIT_LOG.test(rel)) {
      return (r) => {
        if (r?.event === 'message_delivered' && typeof r.message_id === 'string') this.delivered.set(r.message_id, String(r.to_bot ?? '?'));
      };
    }
    return undefined;
  }

  finish(result: DoctorResult): void {
    const missing: Array<[string, string]> = [];
    for (const [id, bot] of this.delivered) if (!this.held.has(id) && !this.archived.has(id)) missing.push([id, bot]);
    let unlogged = 0;
    for (const id of this.held) if (!this.delivered.has(id)) unlogged++;
    result.audit = {
      mailboxes: this.mailboxes,
      in_mailboxes: this.inMailboxes,
      archived: this.archived.size,
      delivered_events: this.delivered.size,
      missing: missing.length,
      unlogged,
    };
    for (const [id, bot] of missing.slice(0, MAX_LISTED_PER_FILE)) {
      result.problems.push({
        kind: 'audit_mismatch',
        path: `mailboxes/${bot}.jsonl`,
        detail: `message ${id} is logged as delivered in bot-messaging.jsonl but is in neither this mailbox nor its archive`,
        repaired: false,
        action: 'look for it in mailboxes/*.corrupt.jsonl; the sender may resend it',
      });
    }
    if (missing.length > MAX_LISTED_PER_FILE) {
      result.problems.push({ kind: 'audit_mismatch', path: 'mailboxes/', detail: `… and ${missing.length - MAX_LISTED_PER_FILE} more`, repaired: false });
    }
  }
}
