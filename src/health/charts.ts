/**
 * Inline SVG charts rendered on the server (pure): a time axis with local-time labels, a value
 * axis with units, threshold lines, and line or stacked-bar series. Every label carries its
 * time in `data-t` so the page's script can restate it in the browser's own time zone.
 */
import { MINUTE } from './agg.js';
import type { WindowName } from './views.js';

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pad = (n: number) => (n < 10 ? '0' : '') + n;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Local time of this process (the page's script restates it in the browser's zone with the
 * same formats): 'hm' 14:05, 'hms' 14:05:09, 'dt' Nov 28 14:05:09.
 */
export function localTime(t: number, fmt: 'hm' | 'hms' | 'dt'): string {
  const d = new Date(t);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (fmt === 'hm') return hm;
  const hms = `${hm}:${pad(d.getSeconds())}`;
  return fmt === 'hms' ? hms : `${MONTHS[d.getMonth()]} ${d.getDate()} ${hms}`;
}

/** This process's offset from UTC, as UTC+05:30. */
export function zoneName(t: number): string {
  const off = -new Date(t).getTimezoneOffset();
  return `UTC${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** A time element the page's script localises; readable as it is without script. */
export function timeTag(t: number, fmt: 'hm' | 'hms' | 'dt'): string {
  return `<time datetime="${new Date(t).toISOString()}" data-t="${t}" data-fmt="${fmt}">${localTime(t, fmt)}</time>`;
}

export function fmtValue(v: number, unit: string): string {
  const r = (x: number) => String(Math.round(x * 100) / 100);
  if (unit === '%') return `${r(v)}%`;
  if (unit === 'ms') return v >= 1000 ? `${r(v / 1000)} s` : `${r(v)} ms`;
  if (Math.abs(v) >= 10_000) return `${r(v / 1000)}k`;
  return r(v);
}

export interface Series {
  name: string;
  /** CSS class giving its colour (s0 … s7, sent, claimed, expired). */
  cls: string;
  points: [number, number][];
}

export interface ChartSpec {
  window: WindowName;
  from: number;
  to: number;
  stepMinutes: number;
  series: Series[];
  unit: string;
  /** Stacked bars (counts per slot) instead of lines. */
  bars?: boolean;
  /** Whole numbers (counts): the value axis is labelled with whole numbers. */
  integer?: boolean;
  warn?: number | null;
  critical?: number | null;
  /** Accessible name of the chart. */
  label: string;
}

const W = 320;
const H = 136;
const L = 40;
const R = 8;
const TOP = 10;
const B = 22;

/** 1, 2, 2.5 or 5 times a power of ten, at least `v`. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-9) return m * p;
  return 10 * p;
}

/** For counts: 2, 4, 6, 8, 10, 20, 30, … at least `v`, so the middle line is a whole number too. */
export function evenCeil(v: number): number {
  if (!(v > 2)) return 2;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 3, 4, 5, 6, 8, 10]) if (m * p >= v && (m * p) % 2 === 0) return m * p;
  return 10 * p;
}

function yTop(spec: ChartSpec): number {
  let max = 0;
  if (spec.bars) {
    const sums = new Map<number, number>();
    for (const s of spec.series) for (const [t, v] of s.points) sums.set(t, (sums.get(t) ?? 0) + v);
    for (const v of sums.values()) max = Math.max(max, v);
  } else for (const s of spec.series) for (const [, v] of s.points) max = Math.max(max, v);
  // A threshold is drawn when it is near the data; far above, it would flatten the line.
  for (const th of [spec.warn, spec.critical]) if (th != null && th > 0 && th <= Math.max(max, 1e-9) * 3) max = Math.max(max, th);
  const top = spec.integer ? evenCeil(max) : niceCeil(max);
  return spec.unit === '%' && top > 50 ? 100 : top;
}

const TICKS: Record<WindowName, number> = { '15m': 5, '1h': 15, '24h': 240 };

/** Tick times on round local minutes (every 5 min, 15 min or 4 h). */
export function xTicks(spec: Pick<ChartSpec, 'window' | 'from' | 'to'>): number[] {
  const every = TICKS[spec.window] * MINUTE;
  const out: number[] = [];
  const offset = (t: number) => -new Date(t).getTimezoneOffset() * MINUTE;
  let t = Math.ceil((spec.from + offset(spec.from)) / every) * every - offset(spec.from);
  for (; t <= spec.to; t += every) out.push(t);
  return out;
}

export function chart(spec: ChartSpec): string {
  const pw = W - L - R;
  const ph = H - TOP - B;
  const top = yTop(spec);
  const span = Math.max(1, spec.to - spec.from);
  const x = (t: number) => L + ((t - spec.from) / span) * pw;
  const y = (v: number) => TOP + ph - (Math.min(v, top) / top) * ph;
  const f = (n: number) => n.toFixed(1);
  const parts: string[] = [];
  for (const v of [0, top / 2, top]) {
    parts.push(`<line class="gl" x1="${L}" x2="${W - R}" y1="${f(y(v))}" y2="${f(y(v))}"/>`);
    parts.push(`<text class="ylab" x="${L - 4}" y="${f(y(v) + 3.5)}" text-anchor="end">${esc(fmtValue(v, spec.unit))}</text>`);
  }
  for (const t of xTicks(spec)) {
    parts.push(`<line class="tick" x1="${f(x(t))}" x2="${f(x(t))}" y1="${TOP + ph}" y2="${TOP + ph + 4}"/>`);
    parts.push(`<text class="xlab" x="${f(x(t))}" y="${H - 5}" text-anchor="middle" data-t="${t}" data-fmt="hm">${localTime(t, 'hm')}</text>`);
  }
  for (const [cls, th] of [['warn', spec.warn], ['crit', spec.critical]] as const) {
    if (th != null && th > 0 && th <= top) parts.push(`<line class="th ${cls}" x1="${L}" x2="${W - R}" y1="${f(y(th))}" y2="${f(y(th))}"><title>${cls === 'warn' ? 'degraded' : 'critical'} at ${esc(fmtValue(th, spec.unit))}</title></line>`);
  }
  const slotMs = spec.stepMinutes * MINUTE;
  const hasData = spec.series.some((s) => s.points.length > 0);
  if (spec.bars) parts.push(...bars(spec, x, y, slotMs));
  else for (const s of spec.series) parts.push(...line(s, spec.unit, x, y, slotMs));
  if (!hasData) parts.push(`<text class="empty" x="${L + pw / 2}" y="${TOP + ph / 2}" text-anchor="middle">no data in this window</text>`);
  parts.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${TOP + ph}" y2="${TOP + ph}"/>`);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.label)}" data-from="${spec.from}" data-to="${spec.to}">${parts.join('')}</svg>`;
}

function line(s: Series, unit: string, x: (t: number) => number, y: (v: number) => number, slotMs: number): string[] {
  const out: string[] = [];
  // Points are slot starts; drawn at the slot's middle, a gap of a missing slot breaks the line.
  const cx = (t: number) => x(t + slotMs / 2);
  let d = '';
  let prev: number | null = null;
  for (const [t, v] of s.points) {
    d += `${prev !== null && t - prev <= slotMs * 1.5 ? 'L' : 'M'}${cx(t).toFixed(1)} ${y(v).toFixed(1)}`;
    prev = t;
  }
  if (d) out.push(`<path class="line ${s.cls}" d="${d}"/>`);
  for (const [t, v] of s.points) {
    out.push(
      `<circle class="point ${s.cls}" cx="${cx(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="${s.points.length > 60 ? 1.2 : 2}" data-value="${v}"><title>${esc(s.name)} ${esc(fmtValue(v, unit))} at ${localTime(t, 'hm')}</title></circle>`,
    );
  }
  return out;
}

function bars(spec: ChartSpec, x: (t: number) => number, y: (v: number) => number, slotMs: number): string[] {
  const out: string[] = [];
  const base = new Map<number, number>();
  const w = Math.max(1, (x(spec.from + slotMs) - x(spec.from)) * 0.8);
  for (const s of spec.series) {
    for (const [t, v] of s.points) {
      if (v <= 0) continue;
      const b = base.get(t) ?? 0;
      base.set(t, b + v);
      const y0 = y(b);
      const y1 = y(b + v);
      out.push(
        `<rect class="bar ${s.cls}" x="${(x(t + slotMs / 2) - w / 2).toFixed(1)}" y="${y1.toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" data-value="${v}"><title>${esc(s.name)}: ${v} at ${localTime(t, 'hm')}</title></rect>`,
      );
    }
  }
  return out;
}
