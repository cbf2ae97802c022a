import { int, num, str, type Section } from '../config/schema.js';

/**
 * Routing (issues 4, 14). Times are hours; the regret benchmark runs one task a minute, so a
 * half-life of H hours there is 60·H tasks. The defaults were tuned on the benchmark's tuning
 * seeds and reported on other seeds (docs/routing.md, "Choosing the defaults").
 */
export const schedulingSection = {
  long_half_life_hours: num(
    720,
    'half-life of the long view: outcomes this old weigh half as much; long enough that nothing is forgotten while nothing changes',
    0.001,
    87_600,
  ),
  short_half_life_hours: num(
    1.25,
    'half-life of the short view, the one that notices change; trusted only when its interval and the long one do not overlap',
    0.001,
    87_600,
  ),
  trend_z: num(
    2.5,
    'width of the credible intervals compared for change detection, in posterior standard deviations (higher = fewer false alarms, slower detection)',
    0.5,
    10,
  ),
  trend_min_weight: num(2, 'effective outcomes the short view needs before it can signal a change', 0, 1_000_000),
  reset_cap: num(
    2,
    'after a decline is detected, the other bots of that type keep at most this many effective outcomes (their means stay, their certainty goes, so they are tried again)',
    0,
    1_000_000,
  ),
  trend_hold_hours: num(
    1,
    'after a decline is detected the bot is judged by its recent outcomes for this long, then tried again (a recovered bot is found within about this time)',
    0,
    87_600,
  ),
  max_hold_factor: num(
    4,
    'each decline in a row doubles that hold, up to this many times trend_hold_hours (a bot that stays broken is re-tried ever less often)',
    1,
    1000,
  ),
  duration_cost_per_hour: num(
    0.1,
    'score points a bot loses per hour its tasks of the type take (mean or quantile of recent durations): time priced on an absolute scale, so a long tail counts',
    0,
    10,
  ),
  duration_quantile: num(0, 'which duration is priced: 0 = the mean of recent durations, otherwise this quantile of them (e.g. 0.9)', 0, 1),
  cost_weight: num(0.05, 'score penalty for the most expensive bot (mean tokens relative to the costliest candidate, times this)', 0, 1),
  degraded_penalty: num(0.15, 'score penalty for a bot whose health is DEGRADED (CRITICAL bots are excluded)', 0, 1),
  prior_weight: num(
    2,
    'a bot with no outcomes is expected to be as good as the pooled bots of its type, with the certainty of this many outcomes (cold start with many bots)',
    0.1,
    1000,
  ),
  idle_half_life: num(
    100,
    "evidence about a bot halves every this many outcomes of its type that went to other bots, so a bot that recovered is tried again and equally good bots share work (0 = never)",
    0,
    1_000_000,
  ),
  idle_floor: num(
    6,
    'idle decay stops at this many effective outcomes: a clearly worse bot is retried seldom, a close one often',
    0,
    1000,
  ),
  speed_weight: num(0, 'retired (ignored; see duration_cost_per_hour): kept so config files written by older versions stay valid', 0, 1),
  load_free: num(0, 'retired (ignored: routing does not weigh load): kept so older config files stay valid', 0, 1_000_000),
  load_penalty: num(0, 'retired (ignored): kept so older config files stay valid', 0, 1),
  load_evidence_min: num(0, 'retired (ignored): kept so older config files stay valid', 0, 1_000_000),
  load_evidence_z: num(0, 'retired (ignored): kept so older config files stay valid', 0, 1_000_000),
  load_evidence_decay: num(1, 'retired (ignored): kept so older config files stay valid', 0.5, 1),
  rebase_keep: num(
    100,
    'effective outcomes of a bot\'s past kept when a change is detected (0 = forget the past entirely; more = a passing outage is forgiven sooner)',
    0,
    1_000_000_000,
  ),
  exploration: num(
    0.15,
    'width of the routing draw: Thompson samples from the posterior with each outcome counted up to 1/this times, the more the better a bot is known (half of it at 10 outcomes; 1 = plain Thompson sampling, below 1 = explores less)',
    0.05,
    10,
  ),
  confidence_samples: int(200, 'posterior draws used to estimate confidence = P(recommended bot is the best)', 10, 100000),
  min_samples: int(3, 'outcomes below which a candidate is marked "no data yet: exploring"', 0, 1_000_000),
  duration_window: int(31, 'recent durations kept per bot × type (for the mean, quantile and median)', 1, 1000),
  task_types: str(
    'code,analysis,writing,planning,testing,documentation,other',
    'comma-separated task types that `recommend --task TEXT` classifies onto (any other name is still accepted as a type)',
  ),
} satisfies Section;
