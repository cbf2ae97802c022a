/**
 * Routing operations on a hive (docs/contracts.md): the pure policy applied through the store.
 *
 * Files: performance.jsonl (raw outcomes, one line each); state/scheduling.json (the byte offset
 * of performance.jsonl folded in so far and, per task type, the generation of its document);
 * state/scheduling/<type>.<gen>.json (one document per task type: its bots' aggregates);
 * adaptive-scheduling.jsonl (audit log). Every command folds only the lines appended since the
 * offset, under the state lock, and reads only the types those lines and its question touch, so
 * `recommend` costs the same with 100 or 100,000 outcomes and with 7 or 70 task types recorded.
 * A pass writes new type documents under new names first and commits by rewriting the index
 * (atomic rename); a crash in between leaves the index on the old, consistent generation.
 */
import type { AuditEvent, RoutingCopy } from '../../scheduling/api.js';
import type { HiveContext } from '../../hive.js';
import { type PerformanceRecord } from '../../scheduling/input.js';
import {
  typeStateFromJson,
} from '../../scheduling/policy.js';
import { PERFORMANCE_FILE as FILES_PERFORMANCE, SCHEDULING_LOG } from '../../common/files.js';

const PERFORMANCE_FILE = FILES_PERFORMANCE;
const STATE_FILE = 'state/scheduling.json';
const AUDIT_FILE = SCHEDULING_LOG;
const RESET_ARCHIVE = 'archive/performance-reset.jsonl';

const TYPE_DIR = 'state/scheduling';

/** state/scheduling.json: where folding stopped and which generation of each type document is current. */
interface StateIndex {
  version: 2;
  offset: number;
  ino?: number;
  types: Record<string, number>;
}

function typeFile(type: string, gen: number): string {
  return `${TYPE_DIR}/${type}.${gen}.json`;
}

// ------------------------------------------------------------------ record

// ------------------------------------------------------------------ recommend

// ------------------------------------------------------------------ stats

// ------------------------------------------------------------------ copying (deia migrate)

/**
 * Read this folder's routing at one instant (performance.jsonl, the state and the audit log
 * locked; `readAudit` reads the log under them) and leave it unchanged.
 */
export async function withRoutingSnapshot<R>(ctx: HiveContext, readAudit: () => Promise<AuditEvent[]>, use: (c: RoutingCopy) => Promise<R>): Promise<R> {
  const { store } = ctx;
  const copy = await store.withLock([PERFORMANCE_FILE, STATE_FILE, AUDIT_FILE, RESET_ARCHIVE], async (): Promise<RoutingCopy> => {
    const all = store.read<PerformanceRecord>(PERFORMANCE_FILE).records;
    const forgotten = store.read<PerformanceRecord>(RESET_ARCHIVE).records;
    const audit = await readAudit();
    const s = store.readJson<StateIndex>(STATE_FILE);
    if (!s || s.version !== 2 || typeof s.offset !== 'number' || !s.types || typeof s.types !== 'object') return { outcomes: all, unfolded: [], forgotten, types: null, audit };
    const got = store.readSince<PerformanceRecord>(PERFORMANCE_FILE, { offset: s.offset, ino: s.ino });
    if (got.reset || got.records.length > all.length) return { outcomes: all, unfolded: [], forgotten, types: null, audit };
    const types: Record<string, unknown> = {};
    for (const [t, g] of Object.entries(s.types)) {
      const v = typeof g === 'number' ? store.readJson<unknown>(typeFile(t, g)) : undefined;
      if (!typeStateFromJson(v)) return { outcomes: all, unfolded: [], forgotten, types: null, audit };
      types[t] = v;
    }
    const folded = all.length - got.records.length;
    return { outcomes: all.slice(0, folded), unfolded: all.slice(folded), forgotten, types, audit };
  });
  return use(copy);
}
