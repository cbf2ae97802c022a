/**
 * A hive with an hour of life in it, written through the library with an injected clock:
 * three bots reporting cpu and memory, task outcomes of three types (each type has one bot
 * that gets most of the work), messages sent and claimed every minute, a few that expire,
 * and one alert. What the dashboard tests look at.
 */
export interface BusyHive {
  /** Counts inside the last `minutes` minutes, by what the dashboard shows. */
  sent: number;
  claimed: number;
  expired: number;
  /** task type -> bot -> outcomes */
  tasks: Record<string, Record<string, number>>;
  /** When the last record was written (ms). */
  end: number;
}

export const BOTS = ['BOT-ADA', 'BOT-BEA', 'BOT-CAL'] as const;
/** The bot that does most of each type's work. */
export const FAVOURITE: Record<string, string> = { code: 'BOT-ADA', testing: 'BOT-BEA', documentation: 'BOT-CAL' };

export async function fillBusyHive(dir: string, end: number, minutes = 60): Promise<BusyHive> {
  const { openHive } = await import(process.env.DEIA_TEST_LIB!);
  let now = end - minutes * 60_000;
  const clock = () => now;
  const lead = await openHive({ dir, as: 'LEAD', clock, env: {} });
  const hives = new Map<string, any>();
  for (const b of BOTS) {
    hives.set(b, await openHive({ dir, as: b, clock, env: {} }));
    await lead.register(b);
  }
  const out: BusyHive = { sent: 0, claimed: 0, expired: 0, tasks: {}, end };
  for (let i = 1; i <= minutes; i++) {
    now = end - (minutes - i) * 60_000 - 1000;
    for (const [j, b] of BOTS.entries()) {
      await lead.recordMetric({ metric: 'cpu', value: 25 + 15 * Math.sin(i / 7 + j * 2) + j * 10, bot: b });
      await lead.recordMetric({ metric: 'memory', value: 50 + j * 12 + (i % 10), bot: b });
    }
    for (const [type, fav] of Object.entries(FAVOURITE)) {
      // The favourite takes more of the work as the hour goes on.
      const bots = i % 4 === 0 || i < 15 ? BOTS.filter((b) => b !== fav).slice(0, 1) : [fav];
      for (const b of bots) {
        const success = b === fav ? i % 6 !== 0 : i % 2 === 0;
        await lead.record({ bot: b, type, success, durationMs: 400 + ((i * 37) % 900) });
        const t = (out.tasks[type] ??= {});
        t[b] = (t[b] ?? 0) + 1;
      }
    }
    const n = 2 + (i % 5);
    for (let k = 0; k < n; k++) {
      await lead.send({ to: BOTS[k % 3], body: `task ${i}.${k}` });
      out.sent++;
    }
    // Each bot claims one message a minute: the queues grow slowly.
    for (const b of BOTS) if (await hives.get(b).inbox({ next: true })) out.claimed++;
    if (i % 20 === 10) {
      // To a bot that never opened an inbox: pending until its TTL passes.
      // Any later command's delivery pass expires it.
      await lead.send({ to: 'BOT-GHOST', body: 'anyone?', ttl: 60 });
      out.sent++;
      out.expired++;
    }
  }
  // One alert, written by a recording (as a bot reporting does), not by the dashboard.
  now = end;
  await lead.recordMetric({ metric: 'cpu', value: 96, bot: 'BOT-CAL' });
  await lead.recordMetric({ metric: 'cpu', value: 40, bot: 'BOT-CAL' });
  return out;
}
