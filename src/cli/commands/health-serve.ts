import { UsageError } from '../../common/errors.js';
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'health serve',
  summary: 'HTTP dashboard: / (health, routing, traffic over 15m, 1h or 24h), /health (JSON, 503 when critical), /metrics (Prometheus); writes nothing',
  options: [
    { flags: '--port <port>', description: 'port to listen on, 0 for any free one (default: health.serve_port, 8000)' },
    { flags: '--host <host>', description: 'address to bind (default: health.serve_host, 127.0.0.1)' },
  ],
  postgres: true,
  examples: ['deia health serve', 'deia health serve --port 9100 --host 0.0.0.0', 'deia health serve --port 0 --json   # any free port; prints the URL'],
  async exec(run) {
    const ctx = run.hive();
    const cfg = ctx.config.health;
    const portText = run.opts.port ?? String(cfg.serve_port);
    if (!/^\d+$/.test(String(portText)) || Number(portText) > 65535) {
      throw new UsageError(`--port "${portText}" is not a port number`, 'use 0-65535 (0 = any free port)');
    }
    const host = String(run.opts.host ?? cfg.serve_host);
    const { startHealthServer } = await import('../../health/server.js');
    let server;
    try {
      server = await startHealthServer(ctx, { port: Number(portText), host, onError: (m) => run.out.warn(`dashboard: ${m}`) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new UsageError(`port ${portText} on ${host} is already in use`, 'pick another with --port');
      if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new UsageError(`cannot bind ${host}`, 'give an address of this machine with --host');
      throw e;
    }
    if (run.out.json) run.out.printJson({ url: server.url, host: server.host, port: server.port, endpoints: ['/', '/health', '/metrics', '/api/dashboard'] });
    else run.out.line(`serving the health dashboard on ${server.url} (/health, /metrics); Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    if (!run.out.json) run.out.line('stopped');
  },
});
