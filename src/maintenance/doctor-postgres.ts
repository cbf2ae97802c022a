/**
 * `deia doctor` on a PostgreSQL store: the server reachable (else one line, exit 1, as a folder
 * that is not there), the schema at the version this deia needs (doctor never migrates: it says
 * to run `deia init --store`), then the data (doctor-data.ts, shared with a file:// folder), read row
 * by row below the interface so that what would make it throw is seen and named:
 *   queue items      payload is JSON, and a message where the queue holds mail (inbox., pending., dead.);
 *                    a lease that lapsed more than LAPSED_LEASE_MS ago and was never claimed again
 *   documents        value is JSON, and of its kind (outbox, bot., key., presence., hook.)
 *   pending mail     past its TTL or its retry time by more than OVERDUE_GRACE_MS: cleanup is not running
 *   logs             every line is JSON; bot-messaging's deliveries agree with the inboxes
 * `--repair` does only what is safe there: it runs the delivery step of `deia cleanup`
 * (deliverDueOn: the folder's rules, one transaction), which delivers, retries or expires overdue
 * mail. Everything else it leaves, saying what to do: rows are never rewritten or deleted by doctor.
 */
import type { HiveContext } from '../hive.js';
import type { PostgresBackend } from '../store/postgres/backend.js';
import { inspectPostgres, LATEST_VERSION, rawDocuments, rawLogLines, rawQueueItems } from '../store/postgres/inspect.js';
import { redactUrl } from '../store/postgres/url.js';
import { checkData, type RawSource } from './doctor-data.js';
import { checkConfigFile } from './doctor-files.js';
import { emptyDoctorResult, type DoctorResult, type Problem } from './doctor-report.js';

/** What the folder checks and PostgreSQL has no such thing for. */
const FOLDER_ONLY = ['torn lines', 'stale locks', 'orphan temp files', 'world-writable files', 'symbolic links'];

export async function doctorPostgres(ctx: HiveContext, url: string, repair: boolean): Promise<DoctorResult> {
  const result = emptyDoctorResult(redactUrl(url), false, { kind: 'postgres', schema_version: null, schema_expected: LATEST_VERSION, not_applicable: FOLDER_ONLY }, repair);
  // Settings (retention, retries) come from the folder's config.json, as for every command on PostgreSQL.
  const config = checkConfigFile(ctx, result);
  const c: HiveContext = { ...ctx, config };

  // Unreachable, refused login, no such database: one line naming the server (never its password), exit 1.
  const { backend, version, hasSchema } = await inspectPostgres(url, { clock: ctx.clock });
  try {
    result.exists = hasSchema;
    result.store.schema_version = version;
    const where = result.dir;
    if (version !== LATEST_VERSION) {
      const p: Problem =
        version > LATEST_VERSION
          ? { kind: 'schema', path: 'schema', detail: `schema version ${version} is newer than this deia knows (${LATEST_VERSION})`, repaired: false, action: 'upgrade deia' }
          : {
              kind: 'schema',
              path: 'schema',
              detail:
                (hasSchema || version > 0 ? `schema version ${version}, this deia needs ${LATEST_VERSION}: migration needed` : `no deia schema in this database (this deia needs version ${LATEST_VERSION})`) +
                ` (run \`deia init --store ${where}\`)`,
              repaired: false,
              action: `doctor never migrates: run \`deia init --store ${where}\``,
            };
      result.problems.push(p);
      // The data checks read the tables of the current version: not run on another one.
    } else {
      await checkData(postgresSource(backend), c, repair, result);
    }
  } finally {
    await backend.close();
  }
  result.repaired = result.problems.filter((p) => p.repaired).length;
  result.ok = result.problems.every((p) => p.repaired);
  return result;
}

/** The store's rows as doctor-data.ts reads them, named by table and key for a fix by hand in SQL. */
function postgresSource(b: PostgresBackend): RawSource {
  return {
    backend: b,
    queueItems: () => rawQueueItems(b),
    documents: () => rawDocuments(b),
    logLines: () => rawLogLines(b),
    where: { queue: (q) => `queue ${q}`, document: (k) => `document ${k}`, log: (l) => `log ${l}` },
    locate: {
      item: (q, id) => `SQL: deia_queue_items, queue '${q}', id '${id}'`,
      document: (k) => `SQL: deia_docs, key '${k}'`,
      line: (l, seq) => `SQL: deia_logs, log '${l}', seq ${seq}`,
    },
  };
}
