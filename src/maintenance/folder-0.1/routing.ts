/**
 * Routing in a folder deia 0.1 made, read for its upgrade: performance.jsonl (the outcomes),
 * state/scheduling.json (how far they were folded, and each task type's document generation),
 * state/scheduling/<type>.<gen>.json (the documents) and the audit log. Documents that are current
 * are copied as they are, so the copy answers `stats` and `recommend` exactly as the folder did.
 */
import type { AuditEvent, RoutingCopy } from '../../scheduling/api.js';
import type { HiveContext } from '../../hive.js';
import { type PerformanceRecord } from '../../scheduling/input.js';
import { typeStateFromJson } from '../../scheduling/policy.js';
import { PERFORMANCE_FILE, SCHEDULING_LOG } from '../../common/files.js';

const STATE_FILE = 'state/scheduling.json';
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


/**
 * Read this folder's routing at one instant (performance.jsonl, the state and the audit log
 * locked; `readAudit` reads the log under them) and leave it unchanged.
 */
export async function withRoutingSnapshot<R>(ctx: HiveContext, readAudit: () => Promise<AuditEvent[]>, use: (c: RoutingCopy) => Promise<R>): Promise<R> {
  const { store } = ctx;
  const copy = await store.withLock([PERFORMANCE_FILE, STATE_FILE, SCHEDULING_LOG, RESET_ARCHIVE], async (): Promise<RoutingCopy> => {
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
