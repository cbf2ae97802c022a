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
import type { HiveContext } from '../hive.js';
import { isDeiaError } from '../common/errors.js';
import type { HealthOptions } from './api.js';
import { dashboardPage } from './dashboard.js';
import { prometheusText } from './format.js';
import { LiveDashboard, type Snapshot } from './live.js';
import { parseWindow } from './views.js';

export interface ServeOptions extends Pick<HealthOptions, 'measure' | 'sampler'> {
  port: number;
  host: string;
  /** Called with a one-line description of an error answered with 500. */
  onError?: (message: string) => void;
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
  const live = new LiveDashboard(ctx, { measure: opts.measure, sampler: opts.sampler });
  let inflight: Promise<Snapshot> | null = null;
  const current = () => {
    if (!inflight) {
      inflight = live.snapshot().finally(() => {
        inflight = null;
      });
    }
    return inflight;
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
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
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
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
