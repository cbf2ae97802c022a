import { defineCommand } from '../command.js';
import { UsageError } from '../../common/errors.js';
import { ALL, suggestBot } from '../../messaging/rules.js';
import type { Message, SendInput } from '../../messaging/types.js';

export default defineCommand({
  name: 'send',
  summary: 'queue and deliver a message (or a batch with --stdin-jsonl); prints the new id',
  args: '[to] [body...]',
  options: [
    { flags: '--from <bot>', description: 'sender (alias of --as)' },
    { flags: '-p, --priority <level>', description: 'P0 (critical), P1, P2 (default), P3 (low)' },
    { flags: '--ttl <time>', description: 'how long the message may wait for delivery: 90s, 10m, 1h (bare number = seconds; default 1h)', type: 'duration', unit: 's' },
    { flags: '--reply-to <id>', description: 'id of the message this answers' },
    { flags: '--subject <text>', description: 'a subject line, shown in inbox tables' },
    { flags: '--key <key>', description: 'idempotency key: a second send with the same sender and key stores nothing' },
    { flags: '--stdin-jsonl', description: 'send a batch: one {to, body, priority?, ttl?, reply_to?, subject?, key?} a line on stdin' },
  ],
  examples: [
    'deia send BOT-002 "tests are green" --as BOT-001 --priority P1',
    'echo "long report" | deia send BOT-002 - --from BOT-001 --subject report',
    'deia send @all "deploy at 15:00" --as BOT-001 --key deploy-1500',
    'generate-jsonl | deia send --stdin-jsonl --as BOT-001',
  ],
  postgres: true,
  async exec(run) {
    const { out, opts } = run;
    const to = run.args[0] as string | undefined;
    const words = (run.args[1] as string[] | undefined) ?? [];
    const from = opts.from ?? opts.as;
    // The messaging rules keep TTLs in whole seconds (ttl_seconds); a fraction is refused there.
    const ttl = opts.ttl === undefined ? undefined : opts.ttl / 1000;
    let inputs: SendInput[];
    let label: ((i: number) => string) | undefined;
    if (opts.stdinJsonl) {
      if (to !== undefined) throw new UsageError('--stdin-jsonl takes no recipient or body arguments', 'put "to" and "body" in each line');
      const text = await run.stdin();
      inputs = [];
      const lines: number[] = [];
      text.split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch {
          throw new UsageError(`stdin line ${i + 1}: not valid JSON`, 'give one JSON object a line: {"to": "BOT-002", "body": "hi"}');
        }
        if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
          throw new UsageError(`stdin line ${i + 1}: expected a JSON object`, 'e.g. {"to": "BOT-002", "body": "hi"}');
        }
        const r = rec as Record<string, unknown>;
        inputs.push({ ...(r as unknown as SendInput), priority: r.priority ?? opts.priority, ttl: r.ttl ?? ttl } as SendInput);
        lines.push(i + 1);
      });
      label = (i) => `stdin line ${lines[i]}: `;
    } else {
      if (to === undefined) throw new UsageError('missing recipient', 'e.g. deia send BOT-002 "hello"');
      let body = words.join(' ');
      if (words.length === 1 && words[0] === '-') body = (await run.stdin()).replace(/\n$/, '');
      inputs = [
        {
          to,
          body,
          priority: opts.priority,
          ttl,
          reply_to: opts.replyTo,
          subject: opts.subject,
          key: opts.key,
        },
      ];
    }
    const ctx = run.hive(from ? { as: from } : {});
    // The bots that have an inbox, for "did you mean" and recipient_known: read from the same store.
    const records = await import('../../messaging/records.js');
    const [sent, knownOnStore]: readonly [Message[], string[]] = await records.onStore(ctx, async (b) => {
      const done = await records.sendOn(b, ctx, inputs, label);
      // The recipients' own registrations; the whole list (for "did you mean") only when one is unknown.
      const targets = [...new Set(done.map((m) => m.to_bot))];
      const registered = await records.withInboxOn(b, targets);
      return [done, registered.size === targets.length ? [...registered] : await records.knownBotsOn(b)] as const;
    });
    const known = () => knownOnStore;
    warnUndelivered(run.out, known, sent);
    if (!opts.stdinJsonl && to === ALL && sent.length === 0) out.warn('no other bot has an inbox: nothing sent');
    if (out.json) {
      // recipient_known: false = no bot of that id ever registered (a typo, or one not started yet).
      const registered = new Set(known());
      const doc = sent.map((m) => ({ ...m, recipient_known: registered.has(m.to_bot) }));
      return out.printJson(opts.stdinJsonl || to === ALL ? doc : (doc[0] ?? null));
    }
    // A repeated --key returns ids read back from keys/<sender>.jsonl: sanitised like any stored text.
    out.raw(sent.map((m) => out.safe(m.message_id) + '\n').join(''));
  },
});

function warnUndelivered(out: { warn(m: string): void }, knownList: () => string[], sent: Message[]) {
  const missing = [...new Set(sent.filter((m) => m.status !== 'delivered' && m.status !== 'read').map((m) => m.to_bot))];
  if (missing.length === 0) return;
  const known = knownList();
  for (const b of missing.slice(0, 10)) {
    const m = sent.find((x) => x.to_bot === b)!;
    if (m.last_error === 'recipient has no inbox') {
      const hint = suggestBot(b, known);
      out.warn(`${b} has no inbox yet: message kept pending and retried${hint ? ` (did you mean ${hint}?)` : ''}`);
    } else {
      out.warn(`${b}: ${m.last_error ?? m.status}: message kept ${m.status}`);
    }
  }
}
