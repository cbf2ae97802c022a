import { int, num, type Section } from '../config/schema.js';

/**
 * Routing (issue 4). Times are hours; the regret benchmark runs one task a minute, so a
 * half-life of H hours there is 60·H tasks. The defaults below are the ones the benchmark
 * was tuned with (docs/scheduling.md, "Choosing the defaults").
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
  trend_hold_hours: num(1, 'how long a detected trend is shown as improving/declining after it was detected', 0, 87_600),
  speed_weight: num(0.1, 'score penalty for the slowest bot (median duration relative to the slowest candidate, times this)', 0, 1),
  cost_weight: num(0.05, 'score penalty for the most expensive bot (mean tokens relative to the costliest candidate, times this)', 0, 1),
  degraded_penalty: num(0.15, 'score penalty for a bot whose health is DEGRADED (CRITICAL bots are excluded)', 0, 1),
  load_free: num(
    19,
    'load a bot can carry before it is penalised; load = unread P0/P1 messages + tasks assigned or in progress',
    0,
    1_000_000,
  ),
  load_penalty: num(0.05, 'score penalty per unit of load above load_free', 0, 1),
  load_evidence_min: num(
    20,
    'loaded outcomes (recorded with a load above load_free) needed before the load penalty depends on evidence; until then it always applies',
    0,
    1_000_000,
  ),
  load_evidence_z: num(
    2,
    'the load penalty applies only while loaded outcomes fall short of the bots\' usual success by more than this many standard errors (compared with unloaded ones)',
    0,
    100,
  ),
  load_evidence_decay: num(0.998, 'per-outcome discount of the load evidence, so it follows a hive whose sensitivity to load changes', 0.5, 1),
  rebase_keep: num(
    100,
    'effective outcomes of a bot\'s past kept when a change is detected (0 = forget the past entirely; more = a passing outage is forgiven sooner)',
    0,
    1_000_000_000,
  ),
  exploration: num(
    0.5,
    'width of the routing draw: Thompson samples from the posterior with its evidence divided by this (1 = plain Thompson sampling, below 1 = explores less)',
    0.05,
    10,
  ),
  confidence_samples: int(200, 'posterior draws used to estimate confidence = P(recommended bot is the best)', 10, 100000),
  min_samples: int(3, 'outcomes below which a candidate is marked "no data yet: exploring"', 0, 1_000_000),
  duration_window: int(31, 'recent durations kept per bot × type for the median', 1, 1000),
} satisfies Section;
