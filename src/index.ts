/**
 * The library API: the same operations as the CLI, for Node programs, typed.
 *   import { openHive } from 'deia';
 *   const hive = await openHive({ dir: '.deia', as: 'BOT-001' });
 */
import { createContext, requireIdentity, type HiveContext, type HiveOptions } from './hive.js';
import type { AckOptions, InboxOptions, Message, SendInput } from './messaging/types.js';

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

export class Hive {
  constructor(readonly ctx: HiveContext) {}

  get dir(): string {
    return this.ctx.dir;
  }

  async init(opts: { force?: boolean } = {}) {
    const { initHive } = await import('./maintenance/init.js');
    return initHive(this.ctx, opts);
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
    const { ensureInbox } = await import('./messaging/registry.js');
    return ensureInbox(this.ctx, bot);
  }

  /** Record one task outcome (or many: an array) for routing; what `deia record --json` prints. */
  async record(outcome: import('./scheduling/input.js').OutcomeInput | readonly import('./scheduling/input.js').OutcomeInput[]) {
    const { recordOutcomes } = await import('./scheduling/api.js');
    return recordOutcomes(this.ctx, Array.isArray(outcome) ? outcome : [outcome as import('./scheduling/input.js').OutcomeInput]);
  }

  /** The best bot for a task type or free-text task; what `deia recommend --json` prints. */
  async recommend(opts: import('./scheduling/api.js').RecommendOptions) {
    const { recommend } = await import('./scheduling/api.js');
    return recommend(this.ctx, opts);
  }

  /** Per bot × task type statistics; what `deia stats --json` prints. */
  async stats(opts: import('./scheduling/api.js').StatsOptions = {}) {
    const { stats } = await import('./scheduling/api.js');
    return stats(this.ctx, opts);
  }

  /** Forget what routing learned for a bot and/or type; what `deia stats reset --json` prints. */
  async resetStats(opts: import('./scheduling/api.js').StatsOptions = {}) {
    const { resetStats } = await import('./scheduling/api.js');
    return resetStats(this.ctx, opts);
  }

  /** `deia send --json`: the stored message (for `to: '@all'`, one per recipient). */
  async send(input: SendInput & { to: '@all' }): Promise<Message[]>;
  async send(input: SendInput): Promise<Message>;
  async send(input: SendInput): Promise<Message | Message[]> {
    const { sendMessages } = await import('./messaging/ops.js');
    const sent = await sendMessages(this.ctx, [input]);
    return input.to === '@all' ? sent : sent[0]!;
  }

  /** `deia send --stdin-jsonl --json`: a batch under one lock pass. */
  async sendMany(inputs: SendInput[]): Promise<Message[]> {
    const { sendMessages } = await import('./messaging/ops.js');
    return sendMessages(this.ctx, inputs);
  }

  /** `deia inbox --json`: unread messages of `bot` (default: the acting bot); with `next`, one claimed message or null. */
  async inbox(opts: InboxOptions & { bot?: string; next: true }): Promise<Message | null>;
  async inbox(opts?: InboxOptions & { bot?: string }): Promise<Message[]>;
  async inbox(opts: InboxOptions & { bot?: string } = {}): Promise<Message[] | Message | null> {
    const { inboxMessages } = await import('./messaging/ops.js');
    const bot = opts.bot ?? requireIdentity(this.ctx, 'inbox');
    return inboxMessages(this.ctx, bot, opts);
  }

  /** `deia ack --json`: done with messages claimed with a lease (`inbox({ next: true, lease })`); only their holder may. */
  async ack(ids: string | string[], opts: AckOptions = {}): Promise<Message[]> {
    const { settleMessages } = await import('./messaging/ops.js');
    return settleMessages(this.ctx, 'ack', typeof ids === 'string' ? [ids] : ids, opts);
  }

  /** `deia nack --json`: give leased messages back, claimable again at once; only their holder may. */
  async nack(ids: string | string[], opts: AckOptions = {}): Promise<Message[]> {
    const { settleMessages } = await import('./messaging/ops.js');
    return settleMessages(this.ctx, 'nack', typeof ids === 'string' ? [ids] : ids, opts);
  }

  /** `deia read --json`: mark messages read by id or unique prefix. */
  async read(ids: string[]): Promise<Message[]> {
    const { markRead } = await import('./messaging/ops.js');
    return markRead(this.ctx, ids, this.ctx.identity);
  }

  async conversation(a: string, b: string): Promise<Message[]> {
    const { conversation } = await import('./messaging/ops.js');
    return conversation(this.ctx, a, b);
  }

  /** `deia status --json`. */
  async messagingStatus() {
    const { messagingStatus } = await import('./messaging/ops.js');
    return messagingStatus(this.ctx);
  }

  /** `deia deliver --json`. */
  async deliver() {
    const { deliverDue } = await import('./messaging/ops.js');
    return deliverDue(this.ctx);
  }

  /** `deia health --json`: levels per component and per bot; evaluates and writes alerts. */
  async health(opts: import('./health/api.js').HealthOptions = {}) {
    const { healthReport } = await import('./health/api.js');
    return healthReport(this.ctx, opts);
  }

  /** `deia health record --json`: store a metric sample (db_pool as 'IN_USE/SIZE'). */
  async recordMetric(input: import('./health/api.js').RecordInput) {
    const { recordMetric } = await import('./health/api.js');
    return recordMetric(this.ctx, input);
  }

  /** Per bot level, as routing uses it (writes no alerts). */
  async botHealthLevels() {
    const { botHealthLevels } = await import('./health/api.js');
    return botHealthLevels(this.ctx);
  }

  /** `deia health history --json`. */
  async healthHistory(opts: import('./health/api.js').HistoryOptions) {
    const { metricHistory } = await import('./health/api.js');
    return metricHistory(this.ctx, opts);
  }

  /** `deia health export`: everything the dashboard shows. */
  async healthExport(opts: import('./health/api.js').HealthOptions = {}) {
    const { dashboardData } = await import('./health/api.js');
    return dashboardData(this.ctx, opts);
  }

  /** `deia health reset --json`. */
  async healthReset(opts: { bot?: string } = {}) {
    const { resetHealth } = await import('./health/api.js');
    return resetHealth(this.ctx, opts);
  }

  /** `deia health serve`: start the dashboard server; close() stops it. */
  async healthServe(opts: { port?: number; host?: string } = {}) {
    const { startHealthServer } = await import('./health/server.js');
    const cfg = this.ctx.config.health;
    return startHealthServer(this.ctx, { port: opts.port ?? cfg.serve_port, host: opts.host ?? cfg.serve_host });
  }

  /** `deia task submit --json`: classify, route, store and send the assignment (acts as the hive's identity). */
  async submitTask(input: import('./tasks/ops.js').SubmitInput) {
    const { submitTask } = await import('./tasks/ops.js');
    return submitTask(this.ctx, input);
  }

  /** `deia task start --json`: only the assigned bot (the hive's identity) may. */
  async startTask(id: string) {
    const { startTask } = await import('./tasks/ops.js');
    return startTask(this.ctx, id);
  }

  /** `deia task done --json`: records the outcome and notifies the submitter. */
  async finishTask(id: string, opts: { tokens?: number } = {}) {
    const { finishTask } = await import('./tasks/ops.js');
    return finishTask(this.ctx, id, { success: true, tokens: opts.tokens });
  }

  /** `deia task fail --json`; `retry` puts it back in the queue for another bot. */
  async failTask(id: string, opts: { reason?: string; tokens?: number; retry?: boolean } = {}) {
    const { finishTask } = await import('./tasks/ops.js');
    return finishTask(this.ctx, id, { success: false, ...opts });
  }

  /** `deia task list --json`. */
  async listTasks(opts: import('./tasks/ops.js').ListOptions = {}) {
    const { listTasks } = await import('./tasks/ops.js');
    return listTasks(this.ctx, opts);
  }

  /** `deia task show --json`. */
  async showTask(id: string) {
    const { showTask } = await import('./tasks/ops.js');
    return showTask(this.ctx, id);
  }

  /** `deia task dispatch --json`: assign queued tasks, take back those of stale bots. */
  async dispatchTasks() {
    const { dispatchQueued } = await import('./tasks/ops.js');
    return dispatchQueued(this.ctx);
  }

  /** `deia bots --json`: every bot with last seen, unread mail, open tasks, health and a stale flag. */
  async bots() {
    const { listBots } = await import('./presence/bots.js');
    return listBots(this.ctx);
  }

  /** `deia scale --json`: advice; with `exec`, runs the configured spawn/retire command. */
  async scale(opts: { exec?: boolean } = {}) {
    const { scale } = await import('./tasks/scaling.js');
    return scale(this.ctx, opts);
  }
}

export async function openHive(opts: HiveOptions = {}): Promise<Hive> {
  const ctx = createContext(opts);
  // Hive's operations still work on a folder only: a PostgreSQL store (opts.store, DEIA_STORE or
  // store.url) must not be ignored in favour of the folder.
  if (ctx.storeChoice.kind === 'postgres') {
    const { StoreError } = await import('./store/types.js');
    const { redactUrl } = await import('./store/postgres/url.js');
    throw new StoreError(
      `openHive does not run on a PostgreSQL store yet (chosen by ${ctx.storeChoice.from}: ${redactUrl(ctx.storeChoice.url)})`,
      'use openBackend() for the storage interface, or the CLI (send, inbox, read), or a hive folder',
      'ESTOREUNSUPPORTED',
    );
  }
  return new Hive(ctx);
}
