/**
 * `deia doctor` on a file:// folder: a hive folder run through the storage interface's file
 * backend (its own layout: `<log>.jsonl`, `archive/`, `queues/`, `docs/`, `txn/`). It gets the
 * checks of both other doctors that make sense for that layout, calling theirs:
 *   the folder's (doctor-files.ts)   config.json, stale locks, orphan temp files, world-writable
 *                                    entries, symbolic links, every JSONL line (logs, archive, queues)
 *   the data's (doctor-data.ts)      queue items, documents of their kind, lapsed leases, overdue
 *                                    mail, deliveries in the inboxes
 *   its own                          transaction journals a killed process left in `txn/`
 * `--repair` completes a pending transaction first (the backend's own replay), before anything
 * rewrites one of its files; then does what the folder's repair does, and cleanup's delivery step
 * for overdue mail. A document that is not one is reported and left.
 */
import { formatAge } from '../common/parse.js';
import type { HiveContext } from '../hive.js';
import { tempInfo, walk } from '../store/inspect.js';
import { FileBackend } from '../store/file/backend.js';
import { pendingJournals, rawDocuments, rawLogLines, rawQueueItems, recoverJournals } from '../store/file/inspect.js';
import { checkData, type RawSource } from './doctor-data.js';
import { checkConfigFile, checkEntries, checkJsonl, isJsonl } from './doctor-files.js';
import { emptyDoctorResult, type DoctorResult, type Problem } from './doctor-report.js';

export async function doctorInterface(ctx: HiveContext, repair: boolean): Promise<DoctorResult> {
  const result = emptyDoctorResult(ctx.dir, ctx.store.exists(), { kind: 'interface', schema_version: null, schema_expected: null, not_applicable: [] }, repair);
  if (!result.exists) return result;

  // 1. config.json; 2. locks, temp files, permissions, links (stale locks go before a replay needs them).
  const config = checkConfigFile(ctx, result);
  await checkEntries(ctx, walk(ctx.store), config.store.lock_stale_ms, repair, result);
  // 3. Transactions left halfway: completed before any file of theirs is rewritten below.
  const halfMade = await checkJournals(ctx, repair, result);
  // 4. Every JSONL line (records are counted once, by the data checks).
  for (const e of walk(ctx.store)) {
    if (e.kind !== 'file' || !isJsonl(e.rel) || tempInfo(e.rel)) continue;
    await checkJsonl(ctx, e, repair, result, undefined, false);
  }
  // 5. The data, as on PostgreSQL.
  const c: HiveContext = { ...ctx, config };
  await checkData(fileSource(c), c, repair, result);
  // A delivery missing from an inbox that a pending transaction writes is that transaction's other half.
  for (const p of result.problems) {
    const journal = p.kind === 'audit_mismatch' ? halfMade.get(p.path) : undefined;
    if (journal) p.action = `the pending transaction ${journal} writes this inbox: \`deia doctor --repair\` completes it`;
  }

  result.repaired = result.problems.filter((p) => p.repaired).length;
  result.ok = result.problems.every((p) => p.repaired);
  return result;
}

/**
 * A journal in `txn/` whose writer is gone: its transaction is half made until the next write to
 * one of its files replays it. Returns the files of those still pending, each with its journal.
 */
async function checkJournals(ctx: HiveContext, repair: boolean, result: DoctorResult): Promise<Map<string, string>> {
  const halfMade = new Map<string, string>();
  const replayable: Problem[] = [];
  for (const j of pendingJournals(ctx.store)) {
    if (j.live) continue; // a transaction in progress right now
    const p: Problem = j.files
      ? {
          kind: 'pending_transaction',
          path: j.rel,
          age_ms: j.ageMs,
          detail: `transaction killed halfway ${formatAge(j.ageMs)} ago, not completed yet; it writes ${j.files.join(', ')}`,
          repaired: false,
          action: 'the next write to one of those files completes it, or `deia doctor --repair`',
        }
      : { kind: 'pending_transaction', path: j.rel, age_ms: j.ageMs, detail: 'transaction journal that does not parse: the backend ignores it', repaired: false, action: 'inspect it; remove it by hand if it is no journal' };
    result.problems.push(p);
    if (j.files) replayable.push(p);
    for (const f of j.files ?? []) halfMade.set(f, j.rel);
  }
  if (!repair || replayable.length === 0) return halfMade;
  await recoverJournals(ctx.store);
  const left = new Set(pendingJournals(ctx.store).map((j) => j.rel));
  for (const p of replayable) {
    p.repaired = !left.has(p.path);
    p.action = p.repaired ? 'completed: its journal replayed (every file it names written), then removed' : 'still pending after the replay';
  }
  for (const [f, rel] of halfMade) if (!left.has(rel)) halfMade.delete(f);
  return halfMade;
}

/** The folder's queue items, documents and log lines as doctor-data.ts reads them, named by file. */
function fileSource(ctx: HiveContext): RawSource {
  const { store } = ctx;
  return {
    backend: new FileBackend(store, ctx.clock),
    queueItems: () => rawQueueItems(store),
    documents: async function* () {
      yield* rawDocuments(store);
    },
    logLines: () => rawLogLines(store),
    where: { queue: (q) => `queues/${q}.jsonl`, document: (k) => `docs/${k}.json`, log: (l) => `${l}.jsonl` },
    locate: {
      item: (q, id) => `queues/${q}.jsonl, item '${id}'`,
      document: (k) => `docs/${k}.json`,
      line: (l, seq) => `${l}.jsonl, record ${seq}`,
    },
  };
}
