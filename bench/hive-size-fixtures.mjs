// Fixtures of bench/hive-size.bench.mjs: a hive with a given message history, written directly
// (a folder's JSONL files as the CLI writes them; PostgreSQL rows as src/messaging/records.ts
// stores them), because sending 1,000,000 messages through the CLI would take most of an hour.
//
// The shape (`spec`): `target` (the bot the benchmark sends to and claims from) and `others` (every
// other bot, the sender among them) each give `unread` (delivered, not read), `read` (read within
// the retention window: still in the mailbox) and `archived` (read before it: moved to
// archive/mailboxes/ by `deia cleanup` on a folder; on PostgreSQL, where nothing is compacted yet,
// the same messages are rows in state done). `outboxFailed` failed messages stay in the outbox (the
// folder) or dead.<bot> (PostgreSQL); nothing is pending. The audit log: three lines per message;
// on a folder, rotated past 10 MB with 5 generations kept, as cleanup leaves it.
import fs from 'node:fs';
import path from 'node:path';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const isoOf = (ms) => new Date(ms).toISOString();
const BODY = 'status update: the build of the feature branch passed, 412 tests green, coverage unchanged; next: review';

/** Bot names: the target, the sender, and BOT-0001 … */
export function botsOf(spec) {
  const others = ['SENDER', ...Array.from({ length: spec.bots - 2 }, (_, i) => `BOT-${String(i + 1).padStart(4, '0')}`)];
  return { target: 'TARGET', others };
}

/** A message id in the shape of a random UUID, derived from a counter (fast and unique). */
function idOf(n) {
  const h = (Math.imul(n + 1, 2654435761) >>> 0).toString(16).padStart(8, '0');
  const t = n.toString(16).padStart(12, '0');
  return `${h}-${t.slice(0, 4)}-4${t.slice(4, 7)}-8${t.slice(7, 10)}-${t.slice(0, 12)}`;
}

/** Every message of one bot: [{ m, kind: 'archived' | 'read' | 'unread' }], oldest first. */
function* messagesOf(to, shape, others, seq, now) {
  const total = shape.archived + shape.read + shape.unread;
  for (let k = 0; k < total; k++) {
    const kind = k < shape.archived ? 'archived' : k < shape.archived + shape.read ? 'read' : 'unread';
    // Archived mail is older than the 7-day retention, read mail within it, unread mail recent.
    const created =
      kind === 'archived' ? now - 8 * DAY - (shape.archived - k) * 60_000 : kind === 'read' ? now - 6 * DAY + k * 60_000 : now - HOUR + k * 1000;
    const n = seq.n++;
    const from = others[n % others.length] === to ? 'SENDER' : others[n % others.length];
    const m = {
      message_id: idOf(n),
      from_bot: from,
      to_bot: to,
      content: `${BODY} (${n})`,
      subject: null,
      priority: `P${n % 4}`,
      status: 'delivered',
      created_at: isoOf(created),
      delivered_at: isoOf(created),
      read_at: null,
      retry_count: 0,
      max_retries: 3,
      ttl_seconds: 3600,
      expires_at: isoOf(created + HOUR),
      next_attempt_at: null,
      last_error: null,
      reply_to: null,
      metadata: {},
      claim_count: 0,
      claimed_by: null,
      lease_expires_at: null,
    };
    yield { m, kind, readAt: kind === 'unread' ? null : created + 30_000 };
  }
}

function auditLines(m, readAt) {
  const base = (event, t, status, details) =>
    JSON.stringify({ timestamp: isoOf(t), event, message_id: m.message_id, from_bot: m.from_bot, to_bot: m.to_bot, priority: m.priority, status, details });
  const t = Date.parse(m.created_at);
  const lines = [base('message_queued', t, 'pending', null), base('message_delivered', t, 'delivered', null)];
  if (readAt !== null) lines.push(base('message_read', readAt, 'read', { claimed: true }));
  return lines.join('\n') + '\n';
}

/** The audit log as cleanup leaves it: the newest lines, rotated into generations of `genBytes`. */
class AuditWriter {
  constructor(hive, spec) {
    this.hive = hive;
    this.spec = spec;
    this.ring = [];
    this.head = 0;
    this.bytes = 0;
  }

  add(text) {
    this.ring.push(text);
    this.bytes += text.length;
    const keep = this.spec.auditCurrentBytes + this.spec.auditGenerations * this.spec.auditGenerationBytes;
    // Older lines than the kept generations are dropped (a head index: shift() would be quadratic).
    while (this.bytes - this.ring[this.head].length > keep) this.bytes -= this.ring[this.head++].length;
    if (this.head > 100_000) this.ring = this.ring.slice(this.head), (this.head = 0);
  }

  finish() {
    const all = this.ring.slice(this.head).join('');
    let end = all.length;
    const cut = (bytes) => all.lastIndexOf('\n', Math.max(0, end - bytes) - 1) + 1;
    const curStart = cut(this.spec.auditCurrentBytes);
    fs.writeFileSync(path.join(this.hive, 'bot-messaging.jsonl'), all.slice(curStart, end));
    end = curStart;
    for (let g = 1; g <= this.spec.auditGenerations && end > 0; g++) {
      const s = cut(this.spec.auditGenerationBytes);
      fs.writeFileSync(path.join(this.hive, `bot-messaging.${g}.jsonl`), all.slice(s, end));
      end = s;
    }
  }
}

/** Write a maintained folder hive into `hive` (already made by `deia init`). Returns the message count. */
export function writeFolderHive(hive, spec, now = Date.now()) {
  const { target, others } = botsOf(spec);
  const bots = [target, ...others];
  for (const d of ['mailboxes', 'archive/mailboxes', 'presence', 'state']) fs.mkdirSync(path.join(hive, d), { recursive: true });
  const audit = new AuditWriter(hive, spec);
  const seq = { n: 0 };
  let regs = '';
  for (const bot of bots) {
    regs += JSON.stringify({ event: 'registered', bot_id: bot, timestamp: isoOf(now - 400 * DAY) }) + '\n';
    fs.writeFileSync(path.join(hive, 'presence', bot), '');
    let box = '';
    let arch = '';
    for (const { m, kind, readAt } of messagesOf(bot, bot === target ? spec.target : spec.others, others, seq, now)) {
      audit.add(auditLines(m, readAt));
      if (kind === 'archived') arch += JSON.stringify({ ...m, status: 'read', read_at: isoOf(readAt) }) + '\n';
      else {
        box += JSON.stringify({ t: 'msg', m }) + '\n';
        if (kind === 'read') box += JSON.stringify({ t: 'read', id: m.message_id, at: isoOf(readAt) }) + '\n';
      }
    }
    fs.writeFileSync(path.join(hive, 'mailboxes', `${bot}.jsonl`), box);
    if (arch) fs.writeFileSync(path.join(hive, 'archive/mailboxes', `${bot}.jsonl`), arch);
  }
  fs.writeFileSync(path.join(hive, 'bots.jsonl'), regs);
  // Failed mail within the retention window, as a compacted outbox keeps it; nothing pending.
  let ob = '';
  for (let i = 0; i < spec.outboxFailed; i++) {
    const created = now - 2 * DAY + i * 1000;
    const m = { ...messagesOf('NOBODY', { archived: 0, read: 0, unread: 1 }, others, seq, now).next().value.m, status: 'pending', created_at: isoOf(created) };
    ob += JSON.stringify({ t: 'msg', m: { ...m, delivered_at: null, last_error: 'recipient has no inbox' } }) + '\n';
    ob += JSON.stringify({ t: 'failed', id: m.message_id, at: isoOf(created + 600_000), reason: 'recipient has no inbox', retry_count: 3 }) + '\n';
  }
  fs.writeFileSync(path.join(hive, 'outbox.jsonl'), ob);
  fs.writeFileSync(path.join(hive, 'state/outbox.json'), JSON.stringify({ next_due_at: null, pending: 0 }) + '\n');
  audit.finish();
  return seq.n;
}

// ------------------------------------------------------------------ PostgreSQL

const ISO_FN = `CREATE FUNCTION pg_temp.iso(bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_char(to_timestamp($1 / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$`;

/** Rows of one group of bots with the same shape into the temp table m; returns the next message number. */
async function addGroup(c, bots, shape, n0, now) {
  const total = shape.archived + shape.read + shape.unread;
  await c.query(
    `INSERT INTO m (n, bot, kind, created)
     SELECT $2::bigint + (b.ord - 1) * $3 + k, b.bot,
       CASE WHEN k < $4 THEN 'archived' WHEN k < $4 + $5 THEN 'read' ELSE 'unread' END,
       CASE WHEN k < $4 THEN $6::bigint - 8 * 86400000 - ($4 - k) * 60000
            WHEN k < $4 + $5 THEN $6::bigint - 6 * 86400000 + k * 60000
            ELSE $6::bigint - 3600000 + k * 1000 END
     FROM unnest($1::text[]) WITH ORDINALITY AS b(bot, ord), generate_series(0, $3 - 1) AS k`,
    [bots, n0, total, shape.archived, shape.read, now],
  );
  return n0 + bots.length * total;
}

const PAYLOAD = `format('{"message_id":"%s","from_bot":"%s","to_bot":"%s","content":"%s (%s)","subject":null,"priority":"%s","status":"delivered","created_at":"%s","delivered_at":"%s","read_at":null,"retry_count":0,"max_retries":3,"ttl_seconds":3600,"expires_at":"%s","next_attempt_at":null,"last_error":null,"reply_to":null,"metadata":{},"claim_count":0,"claimed_by":null,"lease_expires_at":null}',
  id, from_bot, bot, $1::text, n, prio, pg_temp.iso(created), pg_temp.iso(created), pg_temp.iso(created + 3600000))`;

const AUDIT_LINE = `format('{"timestamp":"%s","event":"%s","message_id":"%s","from_bot":"%s","to_bot":"%s","priority":"%s","status":"%s","details":%s}',
  pg_temp.iso(CASE WHEN e = 3 THEN read_at ELSE created END),
  (ARRAY['message_queued', 'message_delivered', 'message_read'])[e], id, from_bot, bot, prio,
  (ARRAY['pending', 'delivered', 'read'])[e], CASE WHEN e = 3 THEN '{"claimed":true}' ELSE 'null' END)`;

/**
 * The same history as writeFolderHive, as rows of a migrated deia database (`client` connected
 * to it): inbox.<bot> items (read ones in state done, with their claim event: PostgreSQL keeps
 * them, as nothing is compacted there yet), the audit log's three lines a message, the bots log
 * and bot.<bot> documents, failed mail in dead.<bot>. Then VACUUM ANALYZE, as autovacuum would.
 */
export async function writePostgresHive(c, spec, now = Date.now()) {
  const { target, others } = botsOf(spec);
  const bots = [target, ...others];
  await c.query(ISO_FN);
  await c.query('CREATE TEMP TABLE m (n bigint, bot text, kind text, created bigint)');
  let n = await addGroup(c, [target], spec.target, 0, now);
  n = await addGroup(c, others, spec.others, n, now);
  await c.query(
    `CREATE TEMP TABLE mm AS SELECT n, bot, kind, created, CASE WHEN kind = 'unread' THEN NULL ELSE created + 30000 END AS read_at,
       md5(n::text)::uuid::text AS id, 'P' || (n % 4) AS prio,
       CASE WHEN o.name = bot THEN 'SENDER' ELSE o.name END AS from_bot
     FROM m, LATERAL (SELECT ($1::text[])[1 + (n % cardinality($1::text[]))] AS name) o`,
    [others],
  );
  await c.query(
    `INSERT INTO deia_queue_items (queue, id, priority, created_at, payload, state, claim_count, claimed_by, claimed_at)
     SELECT 'inbox.' || bot, id, n % 4, created, ${PAYLOAD},
       CASE WHEN read_at IS NULL THEN 'ready' ELSE 'done' END, CASE WHEN read_at IS NULL THEN 0 ELSE 1 END,
       CASE WHEN read_at IS NULL THEN NULL ELSE bot END, read_at
     FROM mm ORDER BY n`,
    [BODY],
  );
  await c.query(`INSERT INTO deia_queue_events (queue, id, event, at, by) SELECT 'inbox.' || bot, id, 'claim', read_at, bot FROM mm WHERE read_at IS NOT NULL ORDER BY read_at`);
  const audit = await c.query(
    `INSERT INTO deia_logs (log, seq, at, line)
     SELECT 'bot-messaging', row_number() OVER (ORDER BY n, e), NULL, ${AUDIT_LINE}
     FROM mm, generate_series(1, 3) AS e WHERE e < 3 OR read_at IS NOT NULL`,
  );
  await c.query(
    `INSERT INTO deia_logs (log, seq, at, line)
     SELECT 'bots', b.ord, NULL, format('{"event":"registered","bot_id":"%s","timestamp":"%s"}', b.bot, pg_temp.iso($2::bigint))
     FROM unnest($1::text[]) WITH ORDINALITY AS b(bot, ord)`,
    [bots, now - 400 * DAY],
  );
  await c.query(`INSERT INTO deia_log_heads (log, next_seq) VALUES ('bot-messaging', $1::bigint + 1), ('bots', $2::bigint + 1)`, [audit.rowCount, bots.length]);
  await c.query(
    `INSERT INTO deia_docs (key, version, value) SELECT 'bot.' || bot, 1, format('{"bot_id":"%s","timestamp":"%s"}', bot, pg_temp.iso($2::bigint)) FROM unnest($1::text[]) AS bot`,
    [bots, now - 400 * DAY],
  );
  await c.query(
    `INSERT INTO deia_queue_items (queue, id, priority, created_at, payload)
     SELECT 'dead.NOBODY', md5('dead' || i)::uuid::text, 2, $2::bigint - 2 * 86400000 + i * 1000,
       format('{"message_id":"%s","from_bot":"SENDER","to_bot":"NOBODY","content":"%s","subject":null,"priority":"P2","status":"failed","created_at":"%s","delivered_at":null,"read_at":null,"retry_count":3,"max_retries":3,"ttl_seconds":3600,"expires_at":"%s","next_attempt_at":null,"last_error":"recipient has no inbox","reply_to":null,"metadata":{},"claim_count":0,"claimed_by":null,"lease_expires_at":null}',
         md5('dead' || i)::uuid::text, $3::text, pg_temp.iso($2::bigint - 2 * 86400000 + i * 1000), pg_temp.iso($2::bigint - 2 * 86400000 + i * 1000 + 3600000))
     FROM generate_series(1, $1::int) AS i`,
    [spec.outboxFailed, now, BODY],
  );
  await c.query('DROP TABLE m, mm');
  await c.query('VACUUM ANALYZE');
  return n + spec.outboxFailed;
}
