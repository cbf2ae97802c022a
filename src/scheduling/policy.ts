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
 * Routing is a Thompson draw from the posterior with its evidence divided by `exploration` (or the
 * highest mean with `greedy`), adjusted for speed, cost, health and load — the load penalty only
 * while recorded outcomes show that load hurts (or none carry a load yet). Confidence is P(best)
 * under the plain posterior, by sampling. If every candidate is CRITICAL, the least bad is chosen.
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
}

export interface SchedState {
  version: 1;
  /** Byte offset of performance.jsonl folded in so far, and that file's inode (a rewrite changes it). */
  offset: number;
  ino?: number;
  /** task type -> bot -> aggregates */
  aggs: Record<string, Record<string, Agg>>;
  /**
   * Evidence on whether load hurts, pooled over bots and types: discounted sums of the
   * residuals (outcome − the bot's long-view mean at the time) of outcomes recorded with a load
   * above `load_free` (l*) and at or below it (u*). Only outcomes that carry a load count.
   */
  loadEv?: LoadEvidence;
}

export interface LoadEvidence {
  ls: number;
  ln: number;
  us: number;
  un: number;
}

export interface PolicyParams {
  longHalfLifeMs: number;
  shortHalfLifeMs: number;
  z: number;
  trendMinWeight: number;
  resetCap: number;
  trendHoldMs: number;
  speedWeight: number;
  costWeight: number;
  degradedPenalty: number;
  loadFree: number;
  loadPenalty: number;
  loadEvidenceMin: number;
  loadEvidenceZ: number;
  loadEvidenceDecay: number;
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
    speedWeight: c.speed_weight,
    costWeight: c.cost_weight,
    degradedPenalty: c.degraded_penalty,
    loadFree: c.load_free,
    loadPenalty: c.load_penalty,
    loadEvidenceMin: c.load_evidence_min,
    loadEvidenceZ: c.load_evidence_z,
    loadEvidenceDecay: c.load_evidence_decay,
    rebaseKeep: c.rebase_keep,
    exploration: c.exploration,
    confidenceSamples: c.confidence_samples,
    minSamples: c.min_samples,
    durationWindow: c.duration_window,
  };
}

export function emptyState(): SchedState {
  return { version: 1, offset: 0, aggs: dict() };
}

/** One outcome as the policy sees it (a performance.jsonl line, time in ms). */
export interface Outcome {
  bot: string;
  type: string;
  success: boolean;
  at: number;
  durationMs?: number | null;
  tokens?: number | null;
  /** The bot's load (unread P0/P1 + tasks in progress) when it took the task, if known. */
  load?: number | null;
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
  const byBot = (state.aggs[o.type] ??= dict<Agg>());
  const agg = (byBot[o.bot] ??= newAgg(o.at));
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
  if (o.load != null && Number.isFinite(o.load)) {
    const lg0 = weighAt(agg.long, o.at, p.longHalfLifeMs);
    if (lg0.s + lg0.f >= LOAD_EVIDENCE_MIN_WEIGHT) {
      const ev = (state.loadEv ??= { ls: 0, ln: 0, us: 0, un: 0 });
      const k = p.loadEvidenceDecay;
      ev.ls *= k;
      ev.ln *= k;
      ev.us *= k;
      ev.un *= k;
      const r = (o.success ? 1 : 0) - (1 + lg0.s) / (2 + lg0.s + lg0.f);
      if (o.load > p.loadFree) {
        ev.ls += r;
        ev.ln += 1;
      } else {
        ev.us += r;
        ev.un += 1;
      }
    }
  }
  addTo(agg.long, o.at, o.success, p.longHalfLifeMs);
  addTo(agg.short, o.at, o.success, p.shortHalfLifeMs);

  const now = Math.max(o.at, agg.long.t);
  const sh = weighAt(agg.short, now, p.shortHalfLifeMs);
  if (sh.s + sh.f >= p.trendMinWeight) {
    const lg = weighAt(agg.long, now, p.longHalfLifeMs);
    const L = interval(lg.s, lg.f, p.z);
    const S = interval(sh.s, sh.f, p.z);
    const dir: Trend | null = S.hi < L.lo ? 'declining' : S.lo > L.hi ? 'improving' : null;
    if (dir) {
      // The same change seen again while it is still held (the kept past pulls the long view
      // back): rebase again, but it is one change, logged once.
      const repeat = agg.trend === dir && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs;
      agg.trend = dir;
      agg.trend_at = now;
      // Change point: what the bot did before no longer describes it (but keep up to
      // `rebase_keep` effective outcomes of its past, so a passing outage is forgiven).
      const keep = lg.s + lg.f > p.rebaseKeep ? p.rebaseKeep / (lg.s + lg.f) : 1;
      agg.long = { s: sh.s + lg.s * keep, f: sh.f + lg.f * keep, t: now };
      if (dir === 'declining') {
        for (const [bot, other] of Object.entries(byBot)) {
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
  mean_tokens: number | null;
  trend: Trend;
  health: HealthLevel;
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
  a: number;
  b: number;
  adj: number;
}

export interface DecideOptions {
  greedy?: boolean;
  /** Estimate confidence by sampling (default true); the simulator turns it off on most steps. */
  confidence?: boolean;
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
  const byBot = state.aggs[type] ?? dict<Agg>();
  const prepared: Prepared[] = [];
  let maxDur = 0;
  let maxTok = 0;
  for (const bot of bots) {
    const agg = byBot[bot];
    if (!agg) continue;
    const md = median(agg.dur);
    if (md !== null) maxDur = Math.max(maxDur, md);
    if (agg.tok_n > 0) maxTok = Math.max(maxTok, agg.tok_sum / agg.tok_n);
  }
  let anyData = false;
  const loadHurts = loadEvidence(state.loadEv, p);
  for (const bot of bots) {
    const agg = byBot[bot];
    const health = signals.health?.[bot] ?? 'UNKNOWN';
    const unread = signals.urgentUnread?.[bot] ?? 0;
    const inProg = signals.inProgress?.[bot] ?? 0;
    const load = unread + inProg;
    const reasons: string[] = [];
    let a = 1;
    let b = 1;
    let trend: Trend = 'stable';
    let rate: number | null = null;
    let recent: number | null = null;
    let md: number | null = null;
    let tok: number | null = null;
    const samples = agg?.n ?? 0;
    if (agg) {
      anyData = true;
      const lg = weighAt(agg.long, now, p.longHalfLifeMs);
      const sh = weighAt(agg.short, now, p.shortHalfLifeMs);
      const L = interval(lg.s, lg.f, p.z);
      const S = interval(sh.s, sh.f, p.z);
      // Trust the short view while it differs from the long one beyond noise, and for
      // `trend_hold_hours` after a detected decline (the long view keeps `rebase_keep` of the past).
      const held = agg.trend === 'declining' && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs;
      const useShort = sh.s + sh.f >= p.trendMinWeight && (held || S.hi < L.lo || S.lo > L.hi);
      const v = useShort ? sh : lg;
      a = 1 + v.s;
      b = 1 + v.f;
      rate = agg.successes / agg.n;
      recent = sh.s + sh.f > 0.5 ? sh.s / (sh.s + sh.f) : null;
      if (agg.trend !== 'stable' && agg.trend_at !== null && now - agg.trend_at <= p.trendHoldMs) trend = agg.trend;
      if (useShort) trend = S.mean < L.mean ? 'declining' : 'improving';
      if (trend !== 'stable') reasons.push(`${trend} recently: weighing recent outcomes`);
      md = median(agg.dur);
      tok = agg.tok_n > 0 ? agg.tok_sum / agg.tok_n : null;
    }
    if (samples < p.minSamples) reasons.push(samples === 0 ? 'no data yet: exploring' : `only ${samples} outcome${samples === 1 ? '' : 's'}: exploring`);
    let adj = 0;
    if (md !== null && maxDur > 0 && p.speedWeight > 0) adj += p.speedWeight * (md / maxDur);
    if (tok !== null && maxTok > 0 && p.costWeight > 0) adj += p.costWeight * (tok / maxTok);
    const excluded = health === 'CRITICAL';
    if (excluded) reasons.push('critical health: excluded');
    else if (health === 'DEGRADED' && p.degradedPenalty > 0) {
      adj += p.degradedPenalty;
      reasons.push(`degraded health: penalty ${fmtPenalty(p.degradedPenalty)}`);
    }
    const over = Math.max(0, load - p.loadFree);
    if (over > 0 && p.loadPenalty > 0 && loadHurts) {
      const pen = over * p.loadPenalty;
      adj += pen;
      const parts: string[] = [];
      if (unread > 0) parts.push(`${unread} unread P0/P1 message${unread === 1 ? '' : 's'}`);
      if (inProg > 0) parts.push(`${inProg} task${inProg === 1 ? '' : 's'} in progress`);
      reasons.push(`${parts.join(', ')}: load penalty ${fmtPenalty(pen)}`);
    }
    const mean = a / (a + b);
    const I = interval(a - 1, b - 1, 1.96);
    prepared.push({
      a,
      b,
      adj,
      c: {
        bot_id: bot,
        score: round(mean - adj, 4),
        samples,
        success_rate: rate === null ? null : round(rate, 4),
        success_interval: [round(Math.max(0, I.lo), 4), round(Math.min(1, I.hi), 4)],
        recent_success_rate: recent === null ? null : round(recent, 4),
        median_duration_ms: md,
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
  // Every candidate CRITICAL (easy in a real hive: health's error-rate thresholds are per bot and
  // low): an empty answer helps nobody, so choose the least bad of them, say so, and trust it less.
  const leastBad = eligible.length === 0 && prepared.length > 0;
  if (leastBad) eligible = prepared;
  let chosen: Prepared | undefined;
  if (eligible.length > 0) {
    if (opts.greedy) {
      for (const x of eligible) if (!chosen || x.a / (x.a + x.b) - x.adj > chosen.a / (chosen.a + chosen.b) - chosen.adj) chosen = x;
    } else {
      // The routing draw comes from the posterior with its evidence multiplied by 1/exploration
      // (exploration 1 = plain Thompson sampling; below 1 = narrower draws, less exploring).
      const e = p.exploration;
      let best = -Infinity;
      for (const x of eligible) {
        const u = (e === 1 ? beta(x.a, x.b, random) : beta(1 + (x.a - 1) / e, 1 + (x.b - 1) / e, random)) - x.adj;
        if (u > best) {
          best = u;
          chosen = x;
        }
      }
    }
  }
  let confidence = 0;
  if (chosen && anyData && opts.confidence !== false) {
    confidence = probabilityBest(eligible, chosen, p.confidenceSamples, random);
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

/** Long-view weight a bot × type needs before its outcomes count as evidence about load. */
const LOAD_EVIDENCE_MIN_WEIGHT = 5;

/**
 * Does load hurt? Until `load_evidence_min` loaded outcomes have been seen, assume it does
 * (the cautious default); after that, only if loaded outcomes fall short of the bots' usual
 * rates by more than `load_evidence_z` standard errors compared with unloaded ones.
 */
export function loadEvidence(ev: LoadEvidence | undefined, p: PolicyParams): boolean {
  if (!ev || ev.ln < p.loadEvidenceMin || ev.un < 1) return true;
  const d = ev.ls / ev.ln - ev.us / ev.un;
  const se = Math.sqrt(0.25 / ev.ln + 0.25 / ev.un);
  return d < -p.loadEvidenceZ * se;
}

/** Confidence is multiplied by this when every candidate is CRITICAL and the least bad one is recommended. */
export const CRITICAL_CONFIDENCE_FACTOR = 0.5;

/** P(chosen has the highest adjusted draw), by `n` joint draws from the posteriors. */
function probabilityBest(eligible: Prepared[], chosen: Prepared, n: number, random: Random): number {
  if (eligible.length === 1) return 1;
  let wins = 0;
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let who: Prepared | undefined;
    for (const x of eligible) {
      const u = beta(x.a, x.b, random) - x.adj;
      if (u > best) {
        best = u;
        who = x;
      }
    }
    if (who === chosen) wins++;
  }
  return wins / n;
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
  for (const [type, byBot] of Object.entries(state.aggs)) {
    if (filter.type && type !== filter.type) continue;
    for (const [bot, agg] of Object.entries(byBot)) {
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

/** Drop the aggregates of a bot and/or type (both omitted: everything). Returns how many bot × type pairs went. */
export function resetAggs(state: SchedState, filter: { bot?: string; type?: string }): number {
  let n = 0;
  for (const type of Object.keys(state.aggs)) {
    if (filter.type && type !== filter.type) continue;
    const byBot = state.aggs[type]!;
    for (const bot of Object.keys(byBot)) {
      if (filter.bot && bot !== filter.bot) continue;
      delete byBot[bot];
      n++;
    }
    if (Object.keys(byBot).length === 0) delete state.aggs[type];
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

function fmtPenalty(x: number): string {
  return `-${round(x, 3)}`;
}
