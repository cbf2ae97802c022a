/**
 * The dashboard page, rendered on the server: a complete HTML document with inline CSS, inline
 * SVG charts and a small inline script (no external asset, no CDN). It reads fully without
 * JavaScript (a <noscript> refresh reloads it); with JavaScript it refetches itself every few
 * seconds, swaps the content in place and shows times in the browser's own zone.
 * Everything from the hive is escaped.
 */
import { chart, esc, fmtValue, timeTag, zoneName, type Series } from './charts.js';
import type { LiveData } from './live.js';
import type { ComponentReport, MetricLine } from './rules.js';
import { WINDOW_NAMES, WINDOWS, type RoutingType } from './views.js';

const ARROW: Record<string, string> = { up: '↑', down: '↓', flat: '→' };

export function dashboardPage(d: LiveData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deia health: ${esc(d.report.level)}</title>
<noscript><meta http-equiv="refresh" content="${d.refresh_seconds}"></noscript>
<style>${CSS}</style>
</head>
<body data-window="${esc(d.window)}">
<div id="page">
${header(d)}
<main>
${summary(d)}
${healthSection(d)}
${routingSection(d)}
${trafficSection(d)}
${alertsSection(d)}
</main>
</div>
<p id="error" role="status"></p>
<script>${script(d.refresh_seconds)}</script>
</body>
</html>
`;
}

function header(d: LiveData): string {
  const windows = WINDOW_NAMES.map(
    (w) => `<a href="?window=${w}"${w === d.window ? ' aria-current="page"' : ''} data-window="${w}">${WINDOWS[w].label}</a>`,
  ).join('');
  const t = Date.parse(d.generated_at);
  return `<header>
<div class="brand"><h1>deia health</h1><span id="overall" class="badge big ${esc(d.report.level)}" data-level="${esc(d.report.level)}">${esc(d.report.level)}</span></div>
<nav class="views" aria-label="views"><a href="#health">Health</a><a href="#routing">Routing</a><a href="#traffic">Traffic</a><a href="#alerts">Alerts</a></nav>
<nav class="windows" aria-label="time window">${windows}</nav>
<span id="meta">updated ${timeTag(t, 'hms')} · every ${d.refresh_seconds} s</span>
</header>`;
}

/** The figures a team lead looks for first. */
function summary(d: LiveData): string {
  const w = WINDOWS[d.window].label;
  const bots = d.report.bots;
  const bad = (['CRITICAL', 'DEGRADED'] as const).map((l) => [l, bots.filter((b) => b.level === l).length] as const).filter(([, n]) => n > 0);
  const tasks = d.routing.types.reduce((a, t) => a + t.tasks, 0);
  const ok = tasks ? d.routing.types.reduce((a, t) => a + (t.success_rate * t.tasks) / 100, 0) / tasks : 0;
  const tr = d.traffic.totals;
  const tile = (id: string, label: string, value: string, sub: string) =>
    `<div class="tile" id="${id}"><span class="label">${label}</span><span class="big">${value}</span><span class="sub">${sub}</span></div>`;
  return `<section class="tiles" aria-label="summary">
${tile('sum-bots', 'Bots', String(bots.length), bad.length ? bad.map(([l, n]) => `<span class="lvl-${l}">${n} ${l.toLowerCase()}</span>`).join(' · ') : bots.length ? 'all healthy' : 'none reported yet')}
${tile('sum-tasks', `Tasks done, last ${w}`, String(tasks), tasks ? `${fmtValue(Math.round(ok * 1000) / 10, '%')} succeeded` : 'none yet')}
${tile('sum-messages', `Messages sent, last ${w}`, String(tr.sent), `${tr.claimed} claimed · ${tr.expired} expired`)}
${tile('sum-waiting', 'Waiting now', String(d.traffic.queue_now?.total ?? 0), d.traffic.queue_now ? `${d.traffic.queue_now.pending} pending delivery · ${d.traffic.queue_now.unread} unread` : 'no messages yet')}
</section>`;
}

function spec(
  d: LiveData,
  series: Series[],
  unit: string,
  label: string,
  extra: { bars?: boolean; integer?: boolean; warn?: number | null; critical?: number | null } = {},
) {
  return chart({ window: d.window, from: Date.parse(d.from), to: Date.parse(d.to), stepMinutes: d.step_minutes, series, unit, label, ...extra });
}

// ---------------------------------------------------------------- health

function healthSection(d: LiveData): string {
  const bots = d.report.bots.length ? d.report.bots.map((c) => card(d, c)).join('') : '<p class="muted">No bot has reported yet.</p>';
  return `<section id="health">
<h2>Components</h2>
<div class="grid">${d.report.components.map((c) => card(d, c)).join('')}</div>
<h2>Bots</h2>
<div class="grid">${bots}</div>
</section>`;
}

function card(d: LiveData, c: ComponentReport): string {
  const title = c.kind === 'bot' ? c.bot_id! : c.name;
  const attrs = `data-component="${esc(c.component)}" data-level="${esc(c.level)}"${c.kind === 'bot' ? ` data-bot="${esc(c.bot_id)}"` : ''}`;
  const metrics = c.metrics.length ? c.metrics.map((m) => metric(d, c, m)).join('') : '<p class="muted">no data</p>';
  const recs = c.recommendations.map((r) => `<p class="rec">→ ${esc(r)}</p>`).join('');
  const badge = `<span class="badge ${esc(c.level)}">${esc(c.level)}${c.stale ? ' · stale' : ''}</span>`;
  return `<article class="card lvl-${esc(c.level)}" ${attrs}><h3><span>${esc(title)}</span>${badge}</h3>${metrics}${recs}</article>`;
}

function metric(d: LiveData, c: ComponentReport, m: MetricLine): string {
  let pts = d.history[c.component]?.[m.metric] ?? [];
  // A measured value (this machine's cpu) has no stored history: show the current point.
  if (!pts.length && m.value !== null) pts = [[Date.parse(d.generated_at) - d.step_minutes * 60_000 + 1, m.value]];
  const value = m.no_data ? 'no data' : `${fmtValue(m.value!, m.unit)}`;
  const trend = m.trend ? ` <span class="trend" title="trend over the health window">${ARROW[m.trend]}</span>` : '';
  const series: Series[] = [{ name: m.metric, cls: 's0', points: pts }];
  const plot = pts.length ? spec(d, series, m.unit, `${c.name} ${m.metric} over the last ${WINDOWS[d.window].label}`, { warn: m.warn, critical: m.critical, integer: m.metric === 'queue_depth' }) : '';
  return `<div class="metric" data-metric="${esc(m.metric)}" data-level="${esc(m.level)}">
<div class="row"><span class="name">${esc(m.metric.replace(/_/g, ' '))}${trend}</span><span class="val lvl-${esc(m.level)}">${esc(value)}</span></div>
${plot}
</div>`;
}

// ---------------------------------------------------------------- routing

function routingSection(d: LiveData): string {
  const r = d.routing;
  const bots = [...new Set(r.types.flatMap((t) => t.bots.map((b) => b.bot_id)))].sort();
  const color = new Map(bots.map((b, i) => [b, `s${i % 8}`]));
  const body = r.types.length
    ? `<div class="grid wide">${r.types.map((t) => routingCard(d, t, color)).join('')}</div>`
    : `<p class="muted">No task finished in the last ${WINDOWS[d.window].label}. Outcomes come from <code>deia record</code> and <code>deia task done|fail</code>.</p>`;
  return `<section id="routing">
<h2>Routing <small>who does the work, by task type, over the last ${WINDOWS[d.window].label}</small></h2>
${body}
</section>`;
}

function routingCard(d: LiveData, t: RoutingType, color: Map<string, string>): string {
  const series: Series[] = t.bots.map((b) => ({
    name: b.bot_id,
    cls: color.get(b.bot_id)!,
    points: b.per_slot.flatMap((v, i): [number, number][] => (v > 0 ? [[d.routing.t[i]!, v]] : [])),
  }));
  const rows = t.bots
    .map(
      (b) => `<tr data-bot="${esc(b.bot_id)}"><td><span class="sw ${color.get(b.bot_id)}"></span>${esc(b.bot_id)}</td>
<td class="share"><span class="sharewrap"><svg class="sharebar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="8"/><rect class="${color.get(b.bot_id)}" width="${(b.share * 100).toFixed(1)}" height="8"/></svg><span>${Math.round(b.share * 100)}%</span></span></td>
<td class="num">${b.tasks}</td><td class="num">${fmtValue(b.success_rate, '%')}</td><td class="trend" data-trend="${b.trend ?? ''}" title="success rate, newer half of the window against the older half">${b.trend ? ARROW[b.trend] : '–'}</td></tr>`,
    )
    .join('');
  const per = d.step_minutes === 1 ? 'per minute' : `per ${d.step_minutes} minutes`;
  return `<article class="card" data-task-type="${esc(t.task_type)}">
<h3><span>${esc(t.task_type)}</span><span class="muted">${t.tasks} tasks · ${fmtValue(t.success_rate, '%')} ok</span></h3>
${spec(d, series, '', `${t.task_type} tasks done ${per}, by bot`, { bars: true, integer: true })}
<p class="caption">tasks done ${per}, by bot</p>
<table class="routing"><thead><tr><th>bot</th><th>share of work</th><th class="num">tasks</th><th class="num">success</th><th>trend</th></tr></thead><tbody>${rows}</tbody></table>
</article>`;
}

// ---------------------------------------------------------------- traffic

function trafficSection(d: LiveData): string {
  const tr = d.traffic;
  const pts = (vals: number[]) => vals.map((v, i): [number, number] => [tr.t[i]!, v]);
  const series: Series[] = [
    { name: 'sent', cls: 'sent', points: pts(tr.per_minute.sent) },
    { name: 'claimed', cls: 'claimed', points: pts(tr.per_minute.claimed) },
    { name: 'expired', cls: 'expired', points: pts(tr.per_minute.expired) },
  ];
  const legend = series.map((s) => `<span><span class="sw ${s.cls}"></span>${s.name} <b data-total="${s.name}">${tr.totals[s.name as 'sent']}</b></span>`).join('');
  const q = tr.queue_now;
  const depth: Series[] = [{ name: 'waiting', cls: 's0', points: pts(tr.queue_depth) }];
  return `<section id="traffic">
<h2>Traffic <small>messages over the last ${WINDOWS[d.window].label}</small></h2>
<div class="grid">
<article class="card" id="messages-per-minute"><h3><span>Messages per minute</span></h3>
${spec(d, series, '', 'messages sent, claimed and expired per minute')}
<p class="legend">${legend}</p></article>
<article class="card" id="queue-depth"><h3><span>Queue depth</span><span class="muted">${q ? `${q.total} waiting` : 'no messaging yet'}</span></h3>
${spec(d, depth, '', 'messages waiting (pending delivery or unread)', { integer: true })}
<p class="caption">messages pending delivery or unread</p></article>
<article class="card" id="queues"><h3><span>Waiting now, per bot</span></h3>${queueTable(d)}</article>
</div>
</section>`;
}

function queueTable(d: LiveData): string {
  const q = d.traffic.queue_now;
  const rows = q ? Object.entries(q.by_bot).sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  if (!rows.length) return '<p class="muted">No bot has an inbox yet.</p>';
  const max = Math.max(1, ...rows.map(([, v]) => v.pending + v.unread));
  const body = rows
    .map(
      ([bot, v]) => `<tr data-bot="${esc(bot)}"><td>${esc(bot)}</td><td class="num">${v.pending}</td><td class="num">${v.unread}</td>
<td class="share"><span class="sharewrap"><svg class="sharebar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="8"/><rect class="s0" width="${(((v.pending + v.unread) / max) * 100).toFixed(1)}" height="8"/></svg></span></td></tr>`,
    )
    .join('');
  return `<table class="queues"><thead><tr><th>bot</th><th class="num">pending</th><th class="num">unread</th><th></th></tr></thead><tbody>${body}</tbody></table>`;
}

// ---------------------------------------------------------------- alerts

function alertsSection(d: LiveData): string {
  const zone = zoneName(Date.parse(d.generated_at));
  const rows = d.recent_alerts
    .map(
      (a) => `<tr><td class="when">${timeTag(Date.parse(a.timestamp), 'dt')}</td><td><span class="badge ${esc(a.alert_level)}">${esc(a.alert_level)}</span></td>
<td class="comp">${esc(a.component)}</td><td class="metric">${esc(a.metric)}</td><td class="num" data-label="value">${a.current_value ?? ''}</td><td class="num" data-label="threshold">${a.threshold ?? ''}</td><td class="action">${esc(a.recommended_action)}</td></tr>`,
    )
    .join('');
  const table = d.recent_alerts.length
    ? `<div class="scroll"><table id="alerts-table"><thead><tr><th>time (<span data-zone>${zone}</span>)</th><th>level</th><th>component</th><th>metric</th><th class="num">value</th><th class="num">threshold</th><th>action</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : '<p class="muted">No alert yet. Alerts are written by <code>deia health</code>, <code>deia health record</code> and <code>deia cleanup</code>, never by this page.</p>';
  return `<section id="alerts"><h2>Recent alerts <small>newest first</small></h2>${table}</section>`;
}

// ---------------------------------------------------------------- style and script

const CSS = `
:root{--ok:#1a7f37;--warn:#9a6700;--crit:#cf222e;--unk:#6e7781;--bg:#f6f8fa;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--blue:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;padding:10px 20px;background:#fff;border-bottom:1px solid var(--line)}
.brand{display:flex;align-items:center;gap:10px}
h1{font-size:18px;margin:0}
h2{font-size:16px;margin:22px 0 10px}
h2 small{font-weight:400;color:var(--muted);font-size:13px;margin-left:6px}
main{padding:0 20px 24px;max-width:1400px}
nav{display:flex;gap:2px}
nav a{color:var(--fg);text-decoration:none;padding:4px 10px;border-radius:6px;font-size:13px}
nav a:hover{background:var(--bg)}
nav.windows{border:1px solid var(--line);border-radius:8px;padding:2px}
nav.windows a[aria-current]{background:var(--blue);color:#fff}
#meta{color:var(--muted);font-size:12px;margin-left:auto}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:11px;letter-spacing:.02em}
.badge.big{font-size:13px;padding:3px 12px}
.HEALTHY{background:var(--ok)}.DEGRADED{background:var(--warn)}.CRITICAL{background:var(--crit)}.UNKNOWN{background:var(--unk)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.grid.wide{grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;border-top:3px solid var(--line);min-width:0}
.card.lvl-HEALTHY{border-top-color:var(--ok)}.card.lvl-DEGRADED{border-top-color:var(--warn)}.card.lvl-CRITICAL{border-top-color:var(--crit)}.card.lvl-UNKNOWN{border-top-color:var(--unk)}
.card h3{margin:0 0 6px;font-size:14px;display:flex;justify-content:space-between;align-items:center;gap:8px}
.card h3 .muted{font-weight:400;font-size:12px}
.metric{margin:8px 0 4px}
.metric .row{display:flex;justify-content:space-between;font-size:12px}
.metric .val{font-variant-numeric:tabular-nums;font-weight:600}
.val.lvl-DEGRADED{color:var(--warn)}.val.lvl-CRITICAL{color:var(--crit)}
.muted,.caption{color:var(--muted)}
.caption{font-size:11px;margin:2px 0 6px}
.rec{color:var(--muted);font-size:12px;margin:4px 0 0}
svg.chart{display:block;width:100%;height:auto;font-size:9.5px}
svg.chart .gl{stroke:#eaeef2;stroke-width:1}
svg.chart .axis{stroke:#8c959f;stroke-width:1}
svg.chart .tick{stroke:#8c959f}
svg.chart text{fill:var(--muted);font-variant-numeric:tabular-nums}
svg.chart .empty{fill:#8c959f;font-style:italic}
svg.chart .line{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg.chart .th{stroke-width:1;stroke-dasharray:4 3}
svg.chart .th.warn{stroke:var(--warn)}svg.chart .th.crit{stroke:var(--crit)}
.s0{--c:#0969da}.s1{--c:#8250df}.s2{--c:#1a7f37}.s3{--c:#bf3989}.s4{--c:#bc4c00}.s5{--c:#1b7c83}.s6{--c:#6e7781}.s7{--c:#953800}
.sent{--c:#0969da}.claimed{--c:#1a7f37}.expired{--c:#cf222e}
svg .line{stroke:var(--c)}svg circle.point,svg rect.bar,svg.sharebar rect{fill:var(--c)}
svg.sharebar .track{fill:#eaeef2}
.sw{display:inline-block;width:9px;height:9px;border-radius:2px;background:var(--c);margin-right:5px;vertical-align:0}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:4px 0 0}
table{border-collapse:collapse;width:100%;font-size:12px}
th{font-weight:600;color:var(--muted);text-align:left;border-bottom:1px solid var(--line);padding:4px 6px}
td{border-bottom:1px solid #eaeef2;padding:4px 6px;vertical-align:middle}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.trend{text-align:center;font-size:14px}
td[data-trend=up]{color:var(--ok)}td[data-trend=down]{color:var(--crit)}
.sharewrap{display:flex;align-items:center;gap:6px;min-width:90px}
svg.sharebar{width:70px;height:8px;border-radius:2px;flex:none}
.scroll{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
#alerts-table td{white-space:nowrap}#alerts-table td.action{white-space:normal;min-width:220px}
#alerts-table td.when{font-variant-numeric:tabular-nums}
table.queues td:first-child,table.routing td:first-child{white-space:nowrap}
#error{color:var(--crit);padding:0 20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;margin-top:16px}
.tile{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;display:flex;flex-direction:column}
.tile .label{font-size:12px;color:var(--muted)}
.tile .big{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums;line-height:1.2}
.tile .sub{font-size:12px;color:var(--muted)}
.tile .lvl-CRITICAL{color:var(--crit);font-weight:600}.tile .lvl-DEGRADED{color:var(--warn);font-weight:600}
code{font-size:12px;background:#eaeef2;padding:1px 4px;border-radius:4px}
@media (max-width:600px){
.tiles{grid-template-columns:1fr 1fr}.tile .big{font-size:22px}
header{position:static;padding:8px 12px}main{padding:0 12px 20px}#meta{margin-left:0;width:100%}.grid,.grid.wide{grid-template-columns:1fr}
#alerts-table thead{display:none}
#alerts-table tr{display:flex;flex-wrap:wrap;align-items:center;gap:2px 10px;padding:8px 10px;border-bottom:1px solid #eaeef2}
#alerts-table td{border:0;padding:0}
#alerts-table td.action{flex-basis:100%;min-width:0;color:var(--muted)}
#alerts-table td[data-label]::before{content:attr(data-label) " ";color:var(--muted)}
}
`;

/** Refetch the page itself, swap its content, and restate times in the browser's zone. */
function script(refreshSeconds: number): string {
  return `(function () {
  var REFRESH = ${Math.max(1, Math.floor(refreshSeconds))} * 1000;
  var MONTHS = ['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'];
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function fmt(t, f) {
    var d = new Date(t), hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (f === 'hm') return hm;
    var hms = hm + ':' + pad(d.getSeconds());
    return f === 'hms' ? hms : MONTHS[d.getMonth()] + ' ' + d.getDate() + ' ' + hms;
  }
  function zone() {
    var o = -new Date().getTimezoneOffset(), s = o < 0 ? '-' : '+';
    o = Math.abs(o);
    return 'UTC' + s + pad(Math.floor(o / 60)) + ':' + pad(o % 60);
  }
  function localize() {
    document.querySelectorAll('[data-t]').forEach(function (e) { e.textContent = fmt(Number(e.getAttribute('data-t')), e.getAttribute('data-fmt')); });
    document.querySelectorAll('[data-zone]').forEach(function (e) { e.textContent = zone(); });
    document.body.setAttribute('data-rendered', String(Number(document.body.getAttribute('data-rendered') || 0) + 1));
  }
  function tick() {
    fetch(location.pathname + location.search, { cache: 'no-store' })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.getElementById('page');
        if (!fresh) throw new Error('unexpected answer');
        document.getElementById('page').replaceWith(document.importNode(fresh, true));
        document.title = doc.title;
        document.getElementById('error').textContent = '';
        localize();
      })
      .catch(function (e) { document.getElementById('error').textContent = 'cannot refresh: ' + e.message; })
      .finally(function () { setTimeout(tick, REFRESH); });
  }
  localize();
  setTimeout(tick, REFRESH);
})();`;
}
