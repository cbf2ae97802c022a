import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'deliver',
  summary: 'process the outgoing queue now: deliveries and retries due, failures, expiries',
  postgres: true,
  examples: ['deia deliver', 'deia deliver --json'],
  async exec(run) {
    const ctx = run.hive();
    const res = await import('../../messaging/records.js').then(({ onStore, deliverDueOn }) => onStore(ctx, (b) => deliverDueOn(b, ctx)));
    if (run.out.json) return run.out.printJson(res);
    run.out.line(`delivered ${res.delivered}, retried ${res.retried}, failed ${res.failed}, expired ${res.expired}`);
  },
});
