/**
 * The routing policy, pure: no files, no clock, no global randomness. The CLI, the library
 * and the regret simulator (bench/routing.mjs) all run these functions.
 *
 * Per bot × task type we keep mergeable, age-weighted sums in two views:
 *   long  (half-life `long_half_life_hours`): remembers nearly everything while nothing changes;
 *   short (half-life `short_half_life_hours`): follows the last few outcomes.
 * Each view is a Beta(1 + successes, 1 + failures) posterior. When the short view's credible
 * interval and the long view's stop overlapping, the bot has changed: a `trend_detected` event,
 * the long view is rebased onto the short one plus at most `rebase_keep` outcomes of the past (a
 * change point that still forgives a passing outage), the short view is trusted for
 * `trend_hold_hours` after a decline, and the other bots of that type keep their means but lose
 * certainty (at most `reset_cap` effective outcomes), so Thompson sampling tries them again.
 * Every bot's posterior starts from a prior pooled over the bots of the type (their mean success,
 * worth `prior_weight` outcomes), so a new bot is expected to be as good as a typical one rather
 * than a coin flip; and evidence about a bot that is not being played loses certainty (its weight
 * halves every `idle_half_life` outcomes of the type recorded for other bots), so a bot that
 * failed once and recovered is found again within a bounded number of tasks, and equally good
 * bots keep sharing the work. Routing is a Thompson draw from that posterior with its evidence
 * divided by `exploration` (or the highest mean with `greedy`), less a time cost (mean or a
 * quantile of recent durations, priced per hour), a token cost and a health penalty. Confidence
 * is P(best) under the same posterior (short view after a change) over all candidates, by
 * sampling, and never exactly 0 or 1. If every candidate is CRITICAL, the least bad is chosen.
 */
import { dict } from '../common/dict.js';
import { iso } from '../common/clock.js';
import type { Config } from '../config/index.js';
import { beta, type Random } from './random.js';
import type { TaskType } from './types.js';

export type Trend = 'stable' | 'improving' | 'declining';
export type HealthLevel = 'HEALTHY' | 'DEGRADED' | 'CRITICAL' | 'UNKNOWN';

/** Age-weighted successes and failures, as weighed at time `t` (ms). */
export interface View {
  s: number;
  f: number;
  t: number;
}

/** Everything known about one bot on one task type. JSON-serialisable (state/scheduling.json). */
export interface Agg {
  n: number;
  successes: number;
  failures: number;
  long: View;
  short: View;
  /** Most recent durations in ms (for the median), newest last. */
  dur: number[];
  tok_sum: number;
  tok_n: number;
  trend: Trend;
  trend_at: number | null;
  first_at: number;
  last_at: number;
  /** The type's outcome count (TypeState.plays) when this bot's last outcome was folded. */
  last_play?: number;
  /** Declines detected in a row (reset by an improvement): each doubles the hold, up to `max_hold_factor`. */
  declines?: number;
}

/** What routing knows about one task type: stored as one document per type. */
export interface TypeState {
  /** Outcomes of this type folded so far (the clock that idle evidence decays by). */
  plays: number;
  /** bot -> aggregates */
  aggs: Map<string, Agg>;
}

export interface SchedState {
  version: 2;
  /** task type -> its state; the store layer loads only the types a command needs. */
  types: Map<string, TypeState>;
}

export interface PolicyParams {
  longHalfLifeMs: number;
  shortHalfLifeMs: number;
  z: number;
  trendMinWeight: number;
  resetCap: number;
  trendHoldMs: number;
  durationCostPerHour: number;
  durationQuantile: number;
  costWeight: number;
  degradedPenalty: number;
  priorWeight: number;
  idleHalfLife: number;
  idleFloor: number;
  maxHoldFactor: number;
  rebaseKeep: number;
  exploration: number;
  confidenceSamples: number;
  minSamples: number;
  durationWindow: number;
}

const HOUR = 3_600_000;

export function paramsFromConfig(c: Config['scheduling']): PolicyParams {
  return {
    longHalfLifeMs: c.long_half_life_hours * HOUR,
    shortHalfLifeMs: c.short_half_life_hours * HOUR,
    z: c.trend_z,
    trendMinWeight: c.trend_min_weight,
    resetCap: c.reset_cap,
    trendHoldMs: c.trend_hold_hours * HOUR,
    durationCostPerHour: c.duration_cost_per_hour,
    durationQuantile: c.duration_quantile,
    costWeight: c.cost_weight,
    degradedPenalty: c.degraded_penalty,
    priorWeight: c.prior_weight,
    idleHalfLife: c.idle_half_life,
    idleFloor: c.idle_floor,
    maxHoldFactor: c.max_hold_factor,
    rebaseKeep: c.rebase_keep,
    exploration: c.exploration,
    confidenceSamples: c.confidence_samples,
    minSamples: c.min_samples,
    durationWindow: c.duration_window,
  };
}

export function emptyState(): SchedState {
  return { version: 2, types: new Map() };
}

export function emptyTypeState(): TypeState {
  return { plays: 0, aggs: new Map() };
}

/** A type's state as stored (JSON has no Map): `{ plays, aggs: { bot: Agg } }`. */
export function typeStateToJson(ts: TypeState): { plays: number; aggs: Record<string, Agg> } {
  return { plays: ts.plays, aggs: Object.fromEntries(ts.aggs) };
}

export function typeStateFromJson(j: unknown): TypeState | undefined {
  const o = j as { plays?: unknown; aggs?: unknown } | null;
  if (!o || typeof o !== 'object' || typeof o.plays !== 'number' || !o.aggs || typeof o.aggs !== 'object') return undefined;
  return { plays: o.plays, aggs: new Map(Object.entries(o.aggs as Record<string, Agg>)) };
}

/** One outcome as the policy sees it (a performance.jsonl line, time in ms). */
export interface Outcome {
  bot: string;
  type: string;
  success: boolean;
  at: number;
  durationMs?: number | null;
  tokens?: number | null;
}

/** Events for adaptive-scheduling.jsonl (the caller adds `timestamp`). */
export type PolicyEvent =
  | { event: 'efficiency_updated'; bot_id: string; task_type: string; success_rate: number; efficiency: number; samples: number }
  | {
      event: 'trend_detected';
      bot_id: string;
      task_type: string;
      trend: Trend;
      long_rate: number;
      short_rate: number;
      at: number;
    };

// ------------------------------------------------------------------ views

/** The view's weights as of `now` (never grows into the past). */
export function weighAt(v: View, now: number, halfLifeMs: number): { s: number; f: number } {
  const k = now > v.t ? Math.pow(2, -(now - v.t) / halfLifeMs) : 1;
  return { s: v.s * k, f: v.f * k };
}

function addTo(v: View, at: number, success: boolean, halfLifeMs: number): void {
  if (at >= v.t) {
    const k = Math.pow(2, -(at - v.t) / halfLifeMs);
    v.s *= k;
    v.f *= k;
    v.t = at;
    if (success) v.s += 1;
    else v.f += 1;
  } else {
    // An outcome older than the view's reference time: add it already discounted.
    const w = Math.pow(2, -(v.t - at) / halfLifeMs);
    if (success) v.s += w;
    else v.f += w;
  }
}

/** Normal approximation of the Beta(1+s, 1+f) credible interval, mean ± z·sd. */
export function interval(s: number, f: number, z: number): { mean: number; lo: number; hi: number } {
  const a = 1 + s;
  const b = 1 + f;
  const n = a + b;
  const mean = a / n;
  const sd = Math.sqrt((a * b) / (n * n * (n + 1)));
  return { mean, lo: mean - z * sd, hi: mean + z * sd };
}

function newAgg(at: number): Agg {
  return {
    n: 0,
    successes: 0,
    failures: 0,
    long: { s: 0, f: 0, t: at },
    short: { s: 0, f: 0, t: at },
    dur: [],
    tok_sum: 0,
    tok_n: 0,
    trend: 'stable',
    trend_at: null,
    first_at: at,
    last_at: at,
  };
}

// ------------------------------------------------------------------ folding outcomes

/**
 * Fold one outcome into the state (mutated in place and returned, so folding 100,000 outcomes
 * allocates nothing per outcome), with the events it causes.
 */
export function foldOutcome(
  state: SchedState,
  o: Outcome,
  p: PolicyParams,
  events?: PolicyEvent[],
  opts: { efficiencyEvents?: boolean } = {},
): SchedState {
  let ts = state.types.get(o.type);
  if (!ts) state.types.set(o.type, (ts = emptyTypeState()));
  const byBot = ts.aggs;
  let agg = byBot.get(o.bot);
  if (!agg) byBot.set(o.bot, (agg = newAgg(o.at)));
  ts.plays++;
  agg.last_play = ts.plays;
  agg.n++;
  if (o.success) agg.successes++;
  else agg.failures++;
  agg.first_at = Math.min(agg.first_at, o.at);
  agg.last_at = Math.max(agg.last_at, o.at);
  if (o.durationMs != null && Number.isFinite(o.durationMs)) {
    agg.dur.push(o.durationMs);
    if (agg.dur.length > p.durationWindow) agg.dur.splice(0, agg.dur.length - p.durationWindow);
  }
  if (o.tokens != null && Number.isFinite(o.tokens)) {
    agg.tok_sum += o.tokens;
    agg.tok_n++;
  }
  // While a decline is held, outcomes (of tasks given before it was seen, or of a re-try that
  // failed again) go to the short view only: the long view keeps what the bot is when it works,
  // so once the hold ends it is tried again — re-tries on a schedule that backs off.
  const wasHeld = isHeld(agg, o.at, p);
  if (!wasHeld) addTo(agg.long, o.at, o.success, p.longHalfLifeMs);
  // A success outside a hold ends a run of declines: the next one is held for the base time again.
  if (!wasHeld && o.success) agg.declines = 0;
  addTo(agg.short, o.at, o.success, p.shortHalfLifeMs);

  const now = Math.max(o.at, agg.long.t);
  const sh = weighAt(agg.short, now, p.shortHalfLifeMs);
  if (sh.s + sh.f >= p.trendMinWeight) {
    const lg = weighAt(agg.long, now, p.longHalfLifeMs);
    const L = interval(lg.s, lg.f, p.z);
    const S = interval(sh.s, sh.f, p.z);
    const dir: Trend | null = S.hi < L.lo ? 'declining' : S.lo > L.hi ? 'improving' : null;
    // The same decline seen again while it is held is one change: nothing more to do.
    if (dir && !(dir === 'declining' && wasHeld)) {
      const repeat = agg.trend === dir && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs;
      agg.trend = dir;
      agg.trend_at = now;
      agg.declines = dir === 'declining' ? (agg.declines ?? 0) + 1 : 0;
      if (dir === 'declining') {
        // A decline is held (the short view decides, re-tries back off); the long view keeps what
        // the bot was before it — the long view less the recent outcomes, at most `rebase_keep`
        // of them — so once it works again it is wanted again at once.
        const ps = Math.max(0, lg.s - sh.s);
        const pf = Math.max(0, lg.f - sh.f);
        const keep = ps + pf > p.rebaseKeep ? p.rebaseKeep / (ps + pf) : 1;
        agg.long = { s: ps * keep, f: pf * keep, t: now };
      } else {
        // Change point up: what the bot did before no longer describes it (but keep up to
        // `rebase_keep` effective outcomes of its past).
        const keep = lg.s + lg.f > p.rebaseKeep ? p.rebaseKeep / (lg.s + lg.f) : 1;
        agg.long = { s: sh.s + lg.s * keep, f: sh.f + lg.f * keep, t: now };
      }
      if (dir === 'declining') {
        for (const [bot, other] of byBot) {
          if (bot === o.bot) continue;
          const w = weighAt(other.long, now, p.longHalfLifeMs);
          const tot = w.s + w.f;
          if (tot > p.resetCap) {
            const k = p.resetCap / tot;
            other.long = { s: w.s * k, f: w.f * k, t: now };
          }
        }
      }
      if (!repeat) events?.push({
        event: 'trend_detected',
        bot_id: o.bot,
        task_type: o.type,
        trend: dir,
        long_rate: round(L.mean, 4),
        short_rate: round(S.mean, 4),
        at: now,
      });
    }
  }
  if (events && opts.efficiencyEvents !== false) {
    const lg = weighAt(agg.long, now, p.longHalfLifeMs);
    events.push({
      event: 'efficiency_updated',
      bot_id: o.bot,
      task_type: o.type,
      success_rate: round(agg.successes / agg.n, 4),
      efficiency: round(interval(lg.s, lg.f, 0).mean, 4),
      samples: agg.n,
    });
  }
  return state;
}

/** How long a detected decline is held: `trend_hold_hours`, doubled for each decline in a row, at most `max_hold_factor` times. */
export function holdMs(agg: Agg, p: PolicyParams): number {
  return p.trendHoldMs * Math.min(p.maxHoldFactor, Math.pow(2, Math.max(0, (agg.declines ?? 1) - 1)));
}

export function isHeld(agg: Agg, now: number, p: PolicyParams): boolean {
  return agg.trend === 'declining' && agg.trend_at !== null && now - agg.trend_at <= holdMs(agg, p);
}

// ------------------------------------------------------------------ deciding

/** Health and load of the candidates, gathered by signals.ts (or given by a simulator). */
export interface Signals {
  health?: Record<string, HealthLevel>;
  urgentUnread?: Record<string, number>;
  inProgress?: Record<string, number>;
}

export interface Candidate {
  bot_id: string;
  score: number;
  samples: number;
  success_rate: number | null;
  success_interval: [number, number];
  recent_success_rate: number | null;
  median_duration_ms: number | null;
  /** The duration routing prices: the mean of recent durations, or the configured quantile. */
  scored_duration_ms: number | null;
  mean_tokens: number | null;
  trend: Trend;
  health: HealthLevel;
  /** Shown for people (unread P0/P1 + tasks in progress); routing does not weigh it. */
  load: number;
  excluded: boolean;
  reasons: string[];
}

export interface Recommendation {
  task_type: string;
  recommended_bot: string | null;
  confidence: number;
  method: 'thompson' | 'greedy';
  candidate_bots: Candidate[];
}

interface Prepared {
  c: Candidate;
  /** Beta posterior parameters (prior + weighted evidence) and the evidence alone. */
  a: number;
  b: number;
  /** Prior pseudo-counts and evidence (after idle decay), kept apart for the exploration draw. */
  a0: number;
  b0: number;
  es: number;
  ef: number;
  adj: number;
}

export interface DecideOptions {
  greedy?: boolean;
  /** Estimate confidence by sampling (default true); the simulator turns it off on most steps. */
  confidence?: boolean;
}

/** The prior of a type: the pooled long-view success of its bots, worth `prior_weight` outcomes. */
export function pooledPrior(ts: TypeState | undefined, p: PolicyParams, now: number): { a0: number; b0: number } {
  let S = 0;
  let F = 0;
  if (ts) {
    for (const agg of ts.aggs.values()) {
      const lg = weighAt(agg.long, now, p.longHalfLifeMs);
      S += lg.s;
      F += lg.f;
    }
  }
  const m0 = (S + 1) / (S + F + 2);
  return { a0: p.priorWeight * m0, b0: p.priorWeight * (1 - m0) };
}

/**
 * The view routing trusts for a bot (the short one after a change) and how much of it still
 * counts: evidence halves for every `idle_half_life` outcomes of the type that went to others.
 */
export function evidenceOf(agg: Agg, ts: TypeState, p: PolicyParams, now: number): { s: number; f: number; useShort: boolean; L: ReturnType<typeof interval>; S: ReturnType<typeof interval>; sh: { s: number; f: number } } {
  const lg = weighAt(agg.long, now, p.longHalfLifeMs);
  const sh = weighAt(agg.short, now, p.shortHalfLifeMs);
  const L = interval(lg.s, lg.f, p.z);
  const S = interval(sh.s, sh.f, p.z);
  // Trust the short view while it differs from the long one beyond noise, and for
  // `trend_hold_hours` after a detected decline (the long view keeps `rebase_keep` of the past).
  const held = isHeld(agg, now, p);
  const useShort = sh.s + sh.f >= p.trendMinWeight && (held || S.hi < L.lo || S.lo > L.hi);
  const v = useShort ? sh : lg;
  const idle = Math.max(0, ts.plays - (agg.last_play ?? ts.plays));
  const tot = v.s + v.f;
  let w = p.idleHalfLife > 0 && idle > 0 ? Math.pow(2, -idle / p.idleHalfLife) : 1;
  // Never below `idle_floor` outcomes: a clearly worse bot is then retried rarely (its draw
  // seldom beats the best one) and a close one often (cheap), so the cost of looking stays small.
  if (w < 1 && tot * w < p.idleFloor) w = Math.min(1, p.idleFloor / Math.max(tot, 1e-9));
  return { s: v.s * w, f: v.f * w, useShort, L, S, sh };
}

/** The duration routing prices: mean of the recent window, or its `q` quantile (0 < q ≤ 1). */
export function scoredDuration(durs: readonly number[], q: number): number | null {
  if (durs.length === 0) return null;
  if (!(q > 0)) return durs.reduce((x, y) => x + y, 0) / durs.length;
  const s = [...durs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * Rank the candidates for a task type and pick one. `bots` are the bots that may be chosen
 * (registered, or with data); bots with data for the type are added by the caller.
 */
export function decide(
  state: SchedState,
  type: TaskType | string,
  bots: readonly string[],
  signals: Signals,
  p: PolicyParams,
  random: Random,
  now: number,
  opts: DecideOptions = {},
): Recommendation {
  const ts = state.types.get(type) ?? emptyTypeState();
  const { a0, b0 } = pooledPrior(ts, p, now);
  const prepared: Prepared[] = [];
  let maxTok = 0;
  for (const bot of bots) {
    const agg = ts.aggs.get(bot);
    if (agg && agg.tok_n > 0) maxTok = Math.max(maxTok, agg.tok_sum / agg.tok_n);
  }
  let anyData = false;
  for (const bot of bots) {
    const agg = ts.aggs.get(bot);
    const health = signals.health?.[bot] ?? 'UNKNOWN';
    const load = (signals.urgentUnread?.[bot] ?? 0) + (signals.inProgress?.[bot] ?? 0);
    const reasons: string[] = [];
    let es = 0;
    let ef = 0;
    let trend: Trend = 'stable';
    let rate: number | null = null;
    let recent: number | null = null;
    let md: number | null = null;
    let sd: number | null = null;
    let tok: number | null = null;
    const samples = agg?.n ?? 0;
    if (agg) {
      anyData = true;
      const ev = evidenceOf(agg, ts, p, now);
      es = ev.s;
      ef = ev.f;
      rate = agg.successes / agg.n;
      recent = ev.sh.s + ev.sh.f > 0.5 ? ev.sh.s / (ev.sh.s + ev.sh.f) : null;
      if (agg.trend !== 'stable' && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs) trend = agg.trend;
      if (ev.useShort) trend = ev.S.mean < ev.L.mean ? 'declining' : 'improving';
      if (trend !== 'stable') reasons.push(`${trend} recently: weighing recent outcomes`);
      md = median(agg.dur);
      sd = scoredDuration(agg.dur, p.durationQuantile);
      tok = agg.tok_n > 0 ? agg.tok_sum / agg.tok_n : null;
    }
    if (samples < p.minSamples) reasons.push(samples === 0 ? 'no data yet: exploring' : `only ${samples} outcome${samples === 1 ? '' : 's'}: exploring`);
    let adj = 0;
    if (sd !== null && p.durationCostPerHour > 0) {
      const pen = (p.durationCostPerHour * sd) / HOUR;
      adj += pen;
      if (pen >= 0.01) reasons.push(`time cost ${fmtPenalty(pen)} (${fmtMinutes(sd)} per task)`);
    }
    if (tok !== null && maxTok > 0 && p.costWeight > 0) adj += p.costWeight * (tok / maxTok);
    const excluded = health === 'CRITICAL';
    if (excluded) reasons.push('critical health: excluded');
    else if (health === 'DEGRADED' && p.degradedPenalty > 0) {
      adj += p.degradedPenalty;
      reasons.push(`degraded health: penalty ${fmtPenalty(p.degradedPenalty)}`);
    }
    const a = a0 + es;
    const b = b0 + ef;
    const I = betaInterval(a, b, 1.96);
    prepared.push({
      a,
      b,
      a0,
      b0,
      es,
      ef,
      adj,
      c: {
        bot_id: bot,
        score: round(a / (a + b) - adj, 4),
        samples,
        success_rate: rate === null ? null : round(rate, 4),
        success_interval: [round(Math.max(0, I.lo), 4), round(Math.min(1, I.hi), 4)],
        recent_success_rate: recent === null ? null : round(recent, 4),
        median_duration_ms: md,
        scored_duration_ms: sd === null ? null : Math.round(sd),
        mean_tokens: tok === null ? null : Math.round(tok),
        trend,
        health,
        load,
        excluded,
        reasons,
      },
    });
  }

  let eligible = prepared.filter((x) => !x.c.excluded);
  // Every candidate CRITICAL: an empty answer helps nobody, so choose the least bad of them,
  // say so, and trust it less.
  const leastBad = eligible.length === 0 && prepared.length > 0;
  if (leastBad) eligible = prepared;
  let chosen: Prepared | undefined;
  if (eligible.length > 0) {
    if (opts.greedy) {
      for (const x of eligible) if (!chosen || x.a / (x.a + x.b) - x.adj > chosen.a / (chosen.a + chosen.b) - chosen.adj) chosen = x;
    } else {
      // The routing draw comes from the posterior with its evidence multiplied by 1/exploration
      // (exploration 1 = plain Thompson sampling; below 1 = narrower draws, less exploring).
      // The narrowing grows with the evidence (none for a bot known from one or two outcomes),
      // so a bot that failed once early is not written off as if it had failed many times.
      let best = -Infinity;
      for (const x of eligible) {
        const m = drawScale(x.es + x.ef, p.exploration);
        const u = beta(x.a0 + x.es * m, x.b0 + x.ef * m, random) - x.adj;
        if (u > best) {
          best = u;
          chosen = x;
        }
      }
    }
  }
  let confidence = 0;
  if (chosen && anyData && opts.confidence !== false) {
    // Many candidates: fewer joint draws (a round the chosen bot wins draws every candidate), at least 50.
    const n = Math.min(p.confidenceSamples, Math.max(50, Math.ceil(CONFIDENCE_DRAW_BUDGET / prepared.length)));
    confidence = probabilityBest(prepared, chosen, n, random);
  }
  if (chosen && leastBad) {
    confidence *= CRITICAL_CONFIDENCE_FACTOR;
    chosen.c.excluded = false;
    chosen.c.reasons = chosen.c.reasons.map((r) => (r === 'critical health: excluded' ? 'critical health' : r));
    chosen.c.reasons.unshift('all candidates critical: least bad');
  }
  if (chosen) chosen.c.reasons.unshift(opts.greedy ? 'highest expected score' : 'Thompson sample: best draw');
  if (!anyData && chosen) chosen.c.reasons.push('no data');

  // Best first: the recommended bot, then by score; excluded bots last.
  const ranked = prepared
    .slice()
    .sort(
      (x, y) =>
        Number(x.c.excluded) - Number(y.c.excluded) ||
        Number(y === chosen) - Number(x === chosen) ||
        y.c.score - x.c.score ||
        (x.c.bot_id < y.c.bot_id ? -1 : 1),
    )
    .map((x) => x.c);
  return {
    task_type: type,
    recommended_bot: chosen?.c.bot_id ?? null,
    confidence: round(confidence, 4),
    method: opts.greedy ? 'greedy' : 'thompson',
    candidate_bots: ranked,
  };
}

/** Evidence (effective outcomes) at which half of the routing draw's narrowing applies. */
export const DRAW_SCALE_HALF = 10;

/** How much the routing draw counts each outcome: from 1 (little evidence) towards 1/exploration (much). */
export function drawScale(evidence: number, exploration: number): number {
  return 1 + (1 / exploration - 1) * (evidence / (evidence + DRAW_SCALE_HALF));
}

/** Candidate draws one confidence estimate may take in all (500 candidates: 50 joint draws). */
export const CONFIDENCE_DRAW_BUDGET = 25_000;

/** Confidence is multiplied by this when every candidate is CRITICAL and the least bad one is recommended. */
export const CRITICAL_CONFIDENCE_FACTOR = 0.5;

/**
 * P(chosen is the best of all candidates), by `n` joint draws from the posteriors, excluded
 * bots included (the chosen one may well not be the best bot, only the best one allowed).
 * Smoothed as (wins + ½)/(n + 1): a finite sample never proves certainty, so it is never 0 or 1,
 * not even with one candidate.
 */
function probabilityBest(all: Prepared[], chosen: Prepared, n: number, random: Random): number {
  if (all.length === 1) return (n + 0.5) / (n + 1);
  // A round only has to tell whether the chosen bot's draw is the best, so it stops at the
  // first rival that beats it. Rivals likeliest to do so go first (upper end of the posterior,
  // less their penalties): with many similar bots a round then costs a few draws, not one per
  // candidate. Every rival draw is independent, so the estimate's distribution is unchanged.
  const reach = (x: Prepared) => x.a / (x.a + x.b) + 2 * Math.sqrt((x.a * x.b) / ((x.a + x.b) ** 2 * (x.a + x.b + 1))) - x.adj;
  const rivals = all
    .filter((x) => x !== chosen)
    .map((x) => ({ x, r: reach(x) }))
    .sort((u, v) => v.r - u.r)
    .map((e) => e.x);
  let wins = 0;
  for (let i = 0; i < n; i++) {
    const mine = beta(chosen.a, chosen.b, random) - chosen.adj;
    let won = true;
    for (const x of rivals) {
      if (beta(x.a, x.b, random) - x.adj > mine) {
        won = false;
        break;
      }
    }
    if (won) wins++;
  }
  return (wins + 0.5) / (n + 1);
}

// ------------------------------------------------------------------ statistics

export interface StatsRow {
  bot_id: string;
  task_type: string;
  samples: number;
  successes: number;
  failures: number;
  success_rate: number;
  weighted_success_rate: number;
  success_interval: [number, number];
  recent_success_rate: number | null;
  median_duration_ms: number | null;
  mean_tokens: number | null;
  trend: Trend;
  first_at: string;
  last_at: string;
}

export function statsRows(state: SchedState, p: PolicyParams, now: number, filter: { bot?: string; type?: string } = {}): StatsRow[] {
  const rows: StatsRow[] = [];
  for (const [type, ts] of state.types) {
    if (filter.type && type !== filter.type) continue;
    for (const [bot, agg] of ts.aggs) {
      if (filter.bot && bot !== filter.bot) continue;
      const lg = weighAt(agg.long, now, p.longHalfLifeMs);
      const sh = weighAt(agg.short, now, p.shortHalfLifeMs);
      const I = interval(lg.s, lg.f, 1.96);
      const trend = agg.trend !== 'stable' && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs ? agg.trend : 'stable';
      rows.push({
        bot_id: bot,
        task_type: type,
        samples: agg.n,
        successes: agg.successes,
        failures: agg.failures,
        success_rate: round(agg.successes / agg.n, 4),
        weighted_success_rate: round(lg.s + lg.f > 0 ? lg.s / (lg.s + lg.f) : agg.successes / agg.n, 4),
        success_interval: [round(Math.max(0, I.lo), 4), round(Math.min(1, I.hi), 4)],
        recent_success_rate: sh.s + sh.f > 0.5 ? round(sh.s / (sh.s + sh.f), 4) : null,
        median_duration_ms: median(agg.dur),
        mean_tokens: agg.tok_n > 0 ? Math.round(agg.tok_sum / agg.tok_n) : null,
        trend,
        first_at: iso(agg.first_at),
        last_at: iso(agg.last_at),
      });
    }
  }
  rows.sort((x, y) => (x.task_type < y.task_type ? -1 : x.task_type > y.task_type ? 1 : x.bot_id < y.bot_id ? -1 : x.bot_id > y.bot_id ? 1 : 0));
  return rows;
}

/**
 * Drop the aggregates of a bot (omitted: every bot) in the types loaded into `state` (the
 * caller loads the type asked for, or all). Returns how many bot × type pairs went.
 */
export function resetAggs(state: SchedState, filter: { bot?: string; type?: string }): number {
  let n = 0;
  for (const ts of state.types.values()) {
    for (const bot of [...ts.aggs.keys()]) {
      if (filter.bot && bot !== filter.bot) continue;
      ts.aggs.delete(bot);
      n++;
    }
  }
  return n;
}

// ------------------------------------------------------------------ helpers

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

function round(x: number, d: number): number {
  const k = 10 ** d;
  return Math.round(x * k) / k;
}

/** Normal approximation of a Beta(a, b) interval, mean ± z·sd. */
function betaInterval(a: number, b: number, z: number): { lo: number; hi: number } {
  const n = a + b;
  const mean = a / n;
  const sd = Math.sqrt((a * b) / (n * n * (n + 1)));
  return { lo: mean - z * sd, hi: mean + z * sd };
}

function fmtMinutes(ms: number): string {
  return ms >= 60_000 ? `${round(ms / 60_000, 1)} min` : `${round(ms / 1000, 1)} s`;
}

function fmtPenalty(x: number): string {
  return `-${round(x, 3)}`;
}
