/**
 * The dashboard page: one self-contained HTML document (inline CSS and script, no
 * external assets) that fetches /api/dashboard and redraws itself without a reload.
 * Everything from the data is inserted as text (textContent), never as HTML.
 */
export function dashboardHtml(refreshSeconds: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deia health</title>
<style>
  :root { --ok:#1a7f37; --warn:#b58100; --crit:#cf222e; --unk:#6e7781; --bg:#f6f8fa; --fg:#1f2328; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:#fff; border-bottom:1px solid #d0d7de; }
  h1 { font-size:18px; margin:0; }
  h2 { font-size:15px; margin:20px 20px 8px; }
  .badge { display:inline-block; padding:2px 10px; border-radius:12px; color:#fff; font-weight:600; font-size:12px; }
  .HEALTHY { background:var(--ok); } .DEGRADED { background:var(--warn); } .CRITICAL { background:var(--crit); } .UNKNOWN { background:var(--unk); }
  #overall { font-size:16px; padding:4px 14px; }
  #meta { color:#57606a; font-size:12px; margin-left:auto; }
  .grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:12px; padding:0 20px; }
  .card { background:#fff; border:1px solid #d0d7de; border-radius:8px; padding:10px 12px; border-top:4px solid var(--unk); }
  .card.HEALTHY { border-top-color:var(--ok); background:#fff; } .card.DEGRADED { border-top-color:var(--warn); background:#fff; }
  .card.CRITICAL { border-top-color:var(--crit); background:#fff; } .card.UNKNOWN { background:#fff; }
  .card h3 { margin:0 0 6px; font-size:14px; display:flex; justify-content:space-between; align-items:center; }
  .metric { margin:6px 0; }
  .metric .row { display:flex; justify-content:space-between; font-size:12px; }
  .metric .val { font-variant-numeric: tabular-nums; font-weight:600; }
  .rec { color:#57606a; font-size:12px; margin:4px 0 0; }
  svg.chart { width:100%; height:56px; background:#f6f8fa; border-radius:4px; }
  svg.chart polyline { fill:none; stroke:#0969da; stroke-width:1.5; }
  svg.chart circle.point { fill:#0969da; }
  svg.chart line.warn { stroke:var(--warn); stroke-dasharray:3 3; } svg.chart line.crit { stroke:var(--crit); stroke-dasharray:3 3; }
  table { border-collapse:collapse; margin:0 20px 20px; background:#fff; font-size:12px; }
  td, th { border:1px solid #d0d7de; padding:4px 8px; text-align:left; }
  #error { color:var(--crit); padding:0 20px; }
</style>
</head>
<body>
<header><h1>deia health</h1><span id="overall" class="badge UNKNOWN" data-level="UNKNOWN">loading…</span><span id="meta"></span></header>
<div id="error"></div>
<h2>Components</h2><div class="grid" id="components"></div>
<h2>Bots</h2><div class="grid" id="bots"></div>
<h2>Recent alerts</h2>
<table id="alerts"><thead><tr><th>time</th><th>event</th><th>level</th><th>component</th><th>metric</th><th>value</th><th>threshold</th><th>action</th></tr></thead><tbody></tbody></table>
<script>
(function () {
  var REFRESH = ${Math.max(1, Math.floor(refreshSeconds))} * 1000;
  var SVG = 'http://www.w3.org/2000/svg';
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = String(text); return e; }
  function svg(tag, attrs) { var e = document.createElementNS(SVG, tag); for (var k in attrs) e.setAttribute(k, attrs[k]); return e; }
  function fmt(v, unit) { if (v === null || v === undefined) return 'no data'; var n = Math.round(v * 100) / 100; return unit === '%' ? n + '%' : unit === 'ms' ? n + ' ms' : String(n); }
  function chart(points, m, fromMs, toMs) {
    var W = 280, H = 56, P = 4;
    var s = svg('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none' });
    var vals = points.map(function (p) { return p[1]; });
    var hi = Math.max.apply(null, vals.concat([m.critical || 1, 1e-9]));
    var x = function (t) { return P + (toMs > fromMs ? (t - fromMs) / (toMs - fromMs) : 1) * (W - 2 * P); };
    var y = function (v) { return H - P - (v / hi) * (H - 2 * P); };
    if (m.warn !== null) s.appendChild(svg('line', { 'class': 'warn', x1: 0, x2: W, y1: y(m.warn), y2: y(m.warn) }));
    s.appendChild(svg('line', { 'class': 'crit', x1: 0, x2: W, y1: y(m.critical), y2: y(m.critical) }));
    s.appendChild(svg('polyline', { points: points.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); }).join(' ') }));
    points.forEach(function (p) { s.appendChild(svg('circle', { 'class': 'point', cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 2, 'data-value': p[1] })); });
    return s;
  }
  function card(c, hist, fromMs, toMs) {
    var d = el('div', 'card ' + c.level);
    d.setAttribute('data-component', c.component);
    d.setAttribute('data-level', c.level);
    if (c.kind === 'bot') d.setAttribute('data-bot', c.bot_id);
    var h = el('h3', null, c.kind === 'bot' ? c.bot_id : c.name);
    h.appendChild(el('span', 'badge ' + c.level, c.level + (c.stale ? ' (stale)' : '')));
    d.appendChild(h);
    if (!c.metrics.length) d.appendChild(el('div', 'rec', 'no data'));
    c.metrics.forEach(function (m) {
      var box = el('div', 'metric');
      box.setAttribute('data-metric', m.metric);
      var row = el('div', 'row');
      row.appendChild(el('span', null, m.metric + (m.trend ? ' ' + ({ up: '↑', down: '↓', flat: '→' })[m.trend] : '')));
      var v = el('span', 'val', m.no_data ? 'no data' : fmt(m.value, m.unit) + ' · ' + m.level);
      row.appendChild(v);
      box.appendChild(row);
      var pts = (hist && hist[m.metric]) || [];
      if (pts.length) box.appendChild(chart(pts, m, fromMs, toMs));
      d.appendChild(box);
    });
    c.recommendations.forEach(function (r) { d.appendChild(el('p', 'rec', '→ ' + r)); });
    return d;
  }
  function render(data) {
    var r = data.report;
    var o = document.getElementById('overall');
    o.textContent = r.level; o.className = 'badge ' + r.level; o.setAttribute('data-level', r.level);
    document.title = 'deia health: ' + r.level;
    document.getElementById('meta').textContent = 'updated ' + data.generated_at + ' · refresh every ' + data.refresh_seconds + ' s';
    var toMs = Date.parse(data.generated_at), fromMs = toMs - data.history_minutes * 60000;
    var comps = document.getElementById('components'), bots = document.getElementById('bots');
    comps.replaceChildren.apply(comps, r.components.map(function (c) { return card(c, data.history[c.component], fromMs, toMs); }));
    bots.replaceChildren.apply(bots, r.bots.map(function (c) { return card(c, data.history[c.component], fromMs, toMs); }));
    if (!r.bots.length) bots.appendChild(el('p', 'rec', 'no bot has reported yet'));
    var tb = document.querySelector('#alerts tbody');
    tb.replaceChildren.apply(tb, data.recent_alerts.map(function (a) {
      var tr = el('tr');
      [a.timestamp, a.event, a.alert_level, a.component, a.metric, a.current_value, a.threshold, a.recommended_action].forEach(function (x) { tr.appendChild(el('td', null, x == null ? '' : x)); });
      return tr;
    }));
    document.body.setAttribute('data-rendered', String(Number(document.body.getAttribute('data-rendered') || 0) + 1));
  }
  function tick() {
    fetch('api/dashboard', { cache: 'no-store' })
      .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
      .then(function (d) { document.getElementById('error').textContent = ''; render(d); })
      .catch(function (e) { document.getElementById('error').textContent = 'cannot refresh: ' + e.message; })
      .finally(function () { setTimeout(tick, REFRESH); });
  }
  tick();
})();
</script>
</body>
</html>
`;
}
