/**
 * The library API: the same operations as the CLI, for Node programs, typed.
 *   import { openHive } from 'deia';
 *   const hive = await openHive({ dir: '.deia', as: 'BOT-001' });
 */
import { createContext, requireIdentity, storeUrl, type HiveContext, type HiveOptions } from './hive.js';
import type { AckOptions, InboxOptions, Message, SendInput } from './messaging/types.js';
import type { StorageBackend } from './store/types.js';

export { DeiaError, UsageError } from './common/errors.js';
export { isBotId, validateBotId, sequentialIds, type IdSource } from './common/ids.js';
export type { Clock } from './common/clock.js';
export { defaultConfig, resolveConfig, type Config } from './config/index.js';
export { Store } from './store/store.js';
export { openBackend, isPostgresUrl, redactUrl, type OpenBackendOptions } from './store/open.js';
export {
  StoreError,
  StoreConflict,
  type StorageBackend,
  type Log,
  type Queues,
  type QueueItem,
  type Documents,
  type Transaction,
  type TransactionScope,
  type Watcher,
  type WatchTarget,
  type Cursor,
} from './store/types.js';
export type { HiveContext, HiveOptions } from './hive.js';
export type { OutcomeInput, PerformanceRecord, RecommendOptions, RecommendResult, StatsOptions, RecordResult, ResetResult as StatsResetResult } from './scheduling/api.js';
export type { Candidate, StatsRow, Trend } from './scheduling/policy.js';
export type { Message, SendInput, InboxOptions, AckOptions, Priority, MessageStatus } from './messaging/types.js';
export type { HealthReport, Level, AlertEvent, MetricName } from './health/rules.js';
export type { Task, TaskStatus } from './tasks/model.js';

/**
 * One hive, in a folder or in PostgreSQL: every method runs the same rules on either (on
 * PostgreSQL each call opens one connection and closes it, and refreshes the acting bot's
 * presence as a command does).
 */
export class Hive {
  constructor(readonly ctx: HiveContext) {}

  /** Run `fn` on the hive's store (a folder's or PostgreSQL's), opened for this call and closed after. */
  private async on<R>(fn: (b: StorageBackend) => Promise<R>): Promise<R> {
    const { onStore } = await import('./messaging/records.js');
    return onStore(this.ctx, fn);
  }

  get dir(): string {
    return this.ctx.dir;
  }

  async init(opts: { force?: boolean } = {}) {
    const { initHive, initStore } = await import('./maintenance/init.js');
    return this.ctx.storeChoice.kind === 'postgres' ? initStore(this.ctx.storeChoice.url) : initHive(this.ctx, opts);
  }

  async cleanup(opts: { dryRun?: boolean } = {}) {
    const { cleanup } = await import('./maintenance/cleanup.js');
    return cleanup(this.ctx, opts);
  }

  async doctor(opts: { repair?: boolean } = {}) {
    const { doctor } = await import('./maintenance/doctor.js');
    return doctor(this.ctx, opts);
  }

  /** `deia export --json`: the three audit logs written as JSONL files into `opts.out`. */
  async exportLogs(opts: import('./maintenance/export.js').ExportOptions) {
    const { exportAuditLogs } = await import('./maintenance/export.js');
    return exportAuditLogs(this.ctx, opts);
  }

  async register(bot: string) {
    return this.on(async (b) => (await import('./messaging/records.js')).ensureInboxOn(b, this.ctx, bot));
  }

  /** Record one task outcome (or many: an array) for routing; what `deia record --json` prints. */
  async record(outcome: import('./scheduling/input.js').OutcomeInput | readonly import('./scheduling/input.js').OutcomeInput[]) {
    const all = Array.isArray(outcome) ? outcome : [outcome as import('./scheduling/input.js').OutcomeInput];
    return this.on(
      async (b) => {
        const { outcomeRecords, recordOn } = await import('./scheduling/records.js');
        return recordOn(b, this.ctx, outcomeRecords(this.ctx, all));
      }
    );
  }

  /** The best bot for a task type or free-text task; what `deia recommend --json` prints. */
  async recommend(opts: import('./scheduling/api.js').RecommendOptions) {
    const { storeRoutingSources } = await import('./routing-signals.js');
    return this.on(
      async (b) => (await import('./scheduling/records.js')).recommendOn(b, this.ctx, opts, storeRoutingSources(b, this.ctx))
    );
  }

  /** Per bot × task type statistics; what `deia stats --json` prints. */
  async stats(opts: import('./scheduling/api.js').StatsOptions = {}) {
    return this.on(async (b) => (await import('./scheduling/records.js')).statsOn(b, this.ctx, opts));
  }

  /** Forget what routing learned for a bot and/or type; what `deia stats reset --json` prints. */
  async resetStats(opts: import('./scheduling/api.js').StatsOptions = {}) {
    return this.on(async (b) => (await import('./scheduling/records.js')).resetOn(b, this.ctx, opts));
  }

  /** `deia send --json`: the stored message (for `to: '@all'`, one per recipient). */
  async send(input: SendInput & { to: '@all' }): Promise<Message[]>;
  async send(input: SendInput): Promise<Message>;
  async send(input: SendInput): Promise<Message | Message[]> {
    const sent = await this.sendMany([input]);
    return input.to === '@all' ? sent : sent[0]!;
  }

  /** `deia send --stdin-jsonl --json`: a batch under one lock pass. */
  async sendMany(inputs: SendInput[]): Promise<Message[]> {
    return this.on(async (b) => (await import('./messaging/records.js')).sendOn(b, this.ctx, inputs));
  }

  /** `deia inbox --json`: unread messages of `bot` (default: the acting bot); with `next`, one claimed message or null. */
  async inbox(opts: InboxOptions & { bot?: string; next: true }): Promise<Message | null>;
  async inbox(opts?: InboxOptions & { bot?: string }): Promise<Message[]>;
  async inbox(opts: InboxOptions & { bot?: string } = {}): Promise<Message[] | Message | null> {
    const inboxOf = (bot: string, o: InboxOptions) => this.on(async (b) => (await import('./messaging/records.js')).inboxOn(b, this.ctx, bot, o));
    const bot = opts.bot ?? requireIdentity(this.ctx, 'inbox');
    return inboxOf(bot, opts);
  }

  /** `deia ack --json`: done with messages claimed with a lease (`inbox({ next: true, lease })`); only their holder may. */
  async ack(ids: string | string[], opts: AckOptions = {}): Promise<Message[]> {
    return this.settle('ack', typeof ids === 'string' ? [ids] : ids, opts);
  }

  /** `deia nack --json`: give leased messages back, claimable again at once; only their holder may. */
  async nack(ids: string | string[], opts: AckOptions = {}): Promise<Message[]> {
    return this.settle('nack', typeof ids === 'string' ? [ids] : ids, opts);
  }

  private async settle(kind: 'ack' | 'nack', ids: string[], opts: AckOptions): Promise<Message[]> {
    return this.on(async (b) => (await import('./messaging/records.js')).settleOn(b, this.ctx, kind, ids, opts));
  }

  /** `deia read --json`: mark messages read by id or unique prefix. */
  async read(ids: string[]): Promise<Message[]> {
    return this.on(async (b) => (await import('./messaging/records.js')).markReadOn(b, this.ctx, ids, this.ctx.identity));
  }

  async conversation(a: string, b: string): Promise<Message[]> {
    return this.on(async (s) => (await import('./messaging/records.js')).conversationOn(s, a, b));
  }

  /** `deia status --json`. */
  async messagingStatus() {
    return this.on(async (b) => (await import('./messaging/records.js')).statusOn(b, this.ctx));
  }

  /** `deia deliver --json`. */
  async deliver() {
    return this.on(async (b) => (await import('./messaging/records.js')).deliverDueOn(b, this.ctx));
  }

  /** `deia health --json`: levels per component and per bot; evaluates and writes alerts. */
  async health(opts: import('./health/api.js').HealthOptions = {}) {
    return this.on(async (b) => (await import('./health/records.js')).healthReportOn(b, this.ctx, opts));
  }

  /** `deia health record --json`: store a metric sample (db_pool as 'IN_USE/SIZE'). */
  async recordMetric(input: import('./health/api.js').RecordInput) {
    return this.on(async (b) => (await import('./health/records.js')).recordMetricOn(b, this.ctx, input));
  }

  /** Per bot level, as routing uses it (writes no alerts). */
  async botHealthLevels() {
    return this.on(async (b) => (await import('./health/records.js')).botHealthLevelsOn(b, this.ctx));
  }

  /** `deia health history --json`. */
  async healthHistory(opts: import('./health/api.js').HistoryOptions) {
    return this.on(async (b) => (await import('./health/records.js')).metricHistoryOn(b, this.ctx, opts));
  }

  /** `deia health export`: everything the dashboard shows. */
  async healthExport(opts: import('./health/api.js').HealthOptions = {}) {
    return this.on(async (b) => (await import('./health/records.js')).dashboardDataOn(b, this.ctx, opts));
  }

  /** `deia health reset --json`. */
  async healthReset(opts: { bot?: string } = {}) {
    return this.on(async (b) => (await import('./health/records.js')).resetHealthOn(b, this.ctx, opts));
  }

  /** `deia health serve`: start the dashboard server; close() stops it. */
  async healthServe(opts: { port?: number; host?: string } = {}) {
    const { startHealthServer } = await import('./health/server.js');
    const cfg = this.ctx.config.health;
    return startHealthServer(this.ctx, { port: opts.port ?? cfg.serve_port, host: opts.host ?? cfg.serve_host });
  }

  /** `deia task submit --json`: classify, route, store and send the assignment (acts as the hive's identity). */
  async submitTask(input: import('./tasks/ops.js').SubmitInput) {
    return this.on(async (b) => (await (await import('./tasks/records.js')).submitOn(b, this.ctx, [input]))[0]!);
  }

  /** `deia task start --json`: only the assigned bot (the hive's identity) may. */
  async startTask(id: string) {
    return this.on(async (b) => (await import('./tasks/records.js')).startOn(b, this.ctx, id));
  }

  /** `deia task done --json`: records the outcome and notifies the submitter. */
  async finishTask(id: string, opts: { tokens?: number } = {}) {
    return this.finish(id, { success: true, tokens: opts.tokens });
  }

  /** `deia task fail --json`; `retry` puts it back in the queue for another bot. */
  async failTask(id: string, opts: { reason?: string; tokens?: number; retry?: boolean } = {}) {
    return this.finish(id, { success: false, ...opts });
  }

  private async finish(id: string, input: import('./tasks/ops.js').FinishInput) {
    return this.on(async (b) => (await import('./tasks/records.js')).finishOn(b, this.ctx, id, input));
  }

  /** `deia task list --json`. */
  async listTasks(opts: import('./tasks/ops.js').ListOptions = {}) {
    return this.on(async (b) => (await import('./tasks/records.js')).listOn(b, opts));
  }

  /** `deia task show --json`. */
  async showTask(id: string) {
    return this.on(async (b) => (await import('./tasks/records.js')).showOn(b, id));
  }

  /** `deia task dispatch --json`: assign queued tasks, take back those of stale bots. */
  async dispatchTasks() {
    return this.on(async (b) => (await import('./tasks/records.js')).dispatchOn(b, this.ctx));
  }

  /** `deia bots --json`: every bot with last seen, unread mail, open tasks, health and a stale flag. */
  async bots() {
    const { listBotsOn } = await import('./presence/bots.js');
    return this.on((b) => listBotsOn(b, this.ctx));
  }

  /** `deia scale --json`: advice; with `exec`, runs the configured spawn/retire command. */
  async scale(opts: { exec?: boolean } = {}) {
    return this.on(async (b) => (await import('./tasks/records.js')).scaleOn(b, this.ctx, { ...opts, storeUrl: storeUrl(this.ctx) }));
  }

  /** Whether this bot has an inbox (was ever registered). */
  async hasInbox(bot: string): Promise<boolean> {
    return this.on(async (b) => (await (await import('./messaging/records.js')).withInboxOn(b, [bot])).has(bot));
  }

  /** Bots that have an inbox, sorted. */
  async knownBots(): Promise<string[]> {
    return this.on(async (b) => (await import('./messaging/records.js')).knownBotsOn(b));
  }
}

export async function openHive(opts: HiveOptions = {}): Promise<Hive> {
  return new Hive(createContext(opts));
}
