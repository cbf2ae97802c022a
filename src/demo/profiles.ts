/**
 * The demo's hidden truth: each bot is good and fast at one task type, mediocre at the
 * others. Routing does not see this; it has to learn it from outcomes.
 */
export interface BotProfile {
  bot_id: string;
  /** Success probability per task type. */
  skill: Record<string, number>;
  /** Mean working time per task type, in ms. */
  speed: Record<string, number>;
}

export const DEMO_TYPES = ['code', 'testing', 'documentation', 'analysis'] as const;

const NAMES = ['BOT-ADA', 'BOT-BEA', 'BOT-CAL', 'BOT-DEX', 'BOT-EVE', 'BOT-FIN', 'BOT-GUS', 'BOT-HAL'];

export function demoProfiles(n: number, scale = 1): BotProfile[] {
  const out: BotProfile[] = [];
  for (let i = 0; i < n; i++) {
    const skill: Record<string, number> = {};
    const speed: Record<string, number> = {};
    DEMO_TYPES.forEach((t, j) => {
      const expert = j === i % DEMO_TYPES.length;
      skill[t] = expert ? 0.95 : 0.45 + 0.1 * ((i + j) % 3);
      speed[t] = Math.round((expert ? 150 : 450 + 100 * ((i * 3 + j) % 3)) * scale);
    });
    out.push({ bot_id: NAMES[i] ?? `BOT-${String(i + 1).padStart(3, '0')}`, skill, speed });
  }
  return out;
}

export const DESCRIPTIONS: Record<string, string[]> = {
  code: ['implement the export endpoint', 'fix the null check in the parser', 'refactor the retry loop', 'add pagination to the API'],
  testing: ['write tests for the retry loop', 'fix the flaky login test', 'add an integration test for export', 'raise coverage of the parser'],
  documentation: ['document the config keys', 'update the README quick start', 'write the changelog entry', 'explain the lock order in docs'],
  analysis: ['analyse last week error rates', 'compare latency before and after', 'investigate the memory growth', 'profile the slow query'],
};
