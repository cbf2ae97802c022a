/**
 * `deia health serve`: a read-only HTTP server over the health operations.
 *   GET /[?window=15m|1h|24h]   the dashboard page (self-contained, rendered here)
 *   GET /api/dashboard[?window=…]   its data
 *   GET /health      the report as JSON; 200 unless CRITICAL (503)
 *   GET /metrics     Prometheus text exposition format 0.0.4
 * Concurrent requests share one evaluation in flight. No console output here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { openOptions, storeUrl, type HiveContext } from '../hive.js';
import { isDeiaError } from '../common/errors.js';
import { type HealthOptions } from './api.js';
import { dashboardPage } from './dashboard.js';
import { prometheusText } from './format.js';
import { LiveDashboard, type LiveSource, type Snapshot } from './live.js';
import { parseWindow } from './views.js';

export interface ServeOptions extends Pick<HealthOptions, 'measure' | 'sampler'> {
  port: number;
  host: string;
  /** Idle sockets are closed after this long (default health.serve_idle_timeout_seconds). */
  idleTimeoutMs?: number;
  /** Called with a one-line description of an error answered with 500. */
  onError?: (message: string) => void;
}

/**
 * The Host names this server answers to: loopback names, the address it was told to bind, and
 * when that is a wildcard (0.0.0.0, ::), this machine's own interface addresses. IP literals
 * cannot be rebound by DNS; a name other than localhost could be, so none is accepted.
 */
export function allowedHostNames(bindHost: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const bind = bindHost.toLowerCase();
  names.add(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind);
  if (bind === '0.0.0.0' || bind === '::' || bind === '[::]') {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) names.add(a.family === 'IPv6' ? `[${a.address.toLowerCase()}]` : a.address);
    }
  }
  return names;
}

/** `Host: name` or `name:port`; the port, when given, must be the one we listen on. */
export function hostAllowed(header: string | undefined, names: ReadonlySet<string>, port: number): boolean {
  if (!header) return false;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(header.trim());
  if (!m) return false;
  const name = m[1]!.toLowerCase().replace(/\.$/, '');
  if (m[2] !== undefined ? Number(m[2]) !== port : port !== 80) return false;
  return names.has(name);
}

export interface HealthServer {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

export async function startHealthServer(ctx: HiveContext, opts: ServeOptions): Promise<HealthServer> {
  // Read-only: the page, /health and /metrics evaluate without writing alerts or state.
  const live = new LiveDashboard(ctx, await sourceFor(ctx), { measure: opts.measure, sampler: opts.sampler });
  let inflight: Promise<Snapshot> | null = null;
  const current = () => {
    if (!inflight) {
      inflight = live.snapshot().finally(() => {
        inflight = null;
      });
    }
    return inflight;
  };

  let allowHost: (header: string | undefined) => boolean = () => false; // set once the port is known
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    // DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 reaches this
    // server with `Host: evil.example`. Only this server's own names are answered.
    if (!allowHost(req.headers.host)) {
      const error = `host not allowed: ${JSON.stringify(req.headers.host ?? '')}; open http://127.0.0.1:${port()}/`;
      send(421, 'application/json', JSON.stringify({ error }) + '\n', { connection: 'close' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: 'read-only: GET or HEAD' }) + '\n', { allow: 'GET, HEAD' });
      return;
    }
    const [path, query] = (req.url ?? '/').split('?') as [string, string | undefined];
    const json = (status: number, doc: unknown) => send(status, 'application/json; charset=utf-8', JSON.stringify(doc, null, 2) + '\n');
    const fail = (e: unknown) => {
      const msg = (e as Error)?.message ?? String(e);
      opts.onError?.(msg);
      json(500, { error: msg });
    };
    let win;
    try {
      win = parseWindow(new URLSearchParams(query ?? '').get('window'));
    } catch (e) {
      if (!isDeiaError(e)) throw e;
      json(400, { error: `${e.message} (${e.hint})` });
      return;
    }
    const view = (s: Snapshot) => live.view(s, win);
    switch (path) {
      case '/':
      case '/index.html':
        current().then(
          (s) =>
            send(200, 'text/html; charset=utf-8', dashboardPage(view(s)), {
              'content-security-policy':
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
            }),
          fail,
        );
        return;
      case '/api/dashboard':
        current().then((s) => json(200, view(s)), fail);
        return;
      case '/health':
        current().then((d) => json(d.report.level === 'CRITICAL' ? 503 : 200, d.report), fail);
        return;
      case '/metrics':
        current().then((d) => send(200, 'text/plain; version=0.0.4; charset=utf-8', prometheusText(d.report)), fail);
        return;
      default:
        json(404, { error: `not found: ${path}`, endpoints: ['/', '/health', '/metrics', '/api/dashboard'] });
    }
  });
  // Sockets idle (between requests, or never sending one) or dripping a request are dropped.
  const idleMs = opts.idleTimeoutMs ?? ctx.config.health.serve_idle_timeout_seconds * 1000;
  server.keepAliveTimeout = Math.min(5_000, idleMs);
  server.headersTimeout = idleMs;
  server.requestTimeout = idleMs;
  server.setTimeout(idleMs);
  const port = () => (server.address() as AddressInfo | null)?.port ?? opts.port;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const names = allowedHostNames(opts.host);
  allowHost = (header) => hostAllowed(header, names, addr.port);
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${hostForUrl}:${addr.port}/`,
    port: addr.port,
    host: addr.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

/**
 * A folder is read through its file backend, held open for the server's life; a PostgreSQL
 * store through one connection per refresh (so a restarted server is simply reached again).
 */
async function sourceFor(ctx: HiveContext): Promise<LiveSource> {
  const url = storeUrl(ctx);
  const [{ openBackend }, { reportReadOnlyOn }] = await Promise.all([import('../store/open.js'), import('./records.js')]);
  return {
    use: async (fn) => {
      const b = await openBackend(url, openOptions(ctx));
      try {
        return await fn(b);
      } finally {
        await b.close();
      }
    },
    report: (b, agg, o) => reportReadOnlyOn(b, ctx, agg, o),
  };
}
