import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deia, mainPath, tempHive } from './helpers/cli.js';

/** Issue 12.10: `deia health serve` answers only its own Host names and drops idle sockets. */
let child: ChildProcess;
let port: number;

beforeAll(async () => {
  const { dir } = tempHive('deia-serve-host-');
  expect(deia(['init'], { dir }).code).toBe(0);
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.health.measure_system = false;
  cfg.health.serve_idle_timeout_seconds = 1;
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  child = spawn(process.execPath, [mainPath(), '--dir', dir, 'health', 'serve', '--port', '0', '--json'], {
    env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '' },
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      try {
        resolve(JSON.parse(out).port);
      } catch {
        // not complete yet
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
});

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

/** One raw request, exactly as written (no client library fixing up the Host header). */
function raw(request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('error', reject);
    s.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d+)/.exec(text)?.[1] ?? 0), text }));
  });
}

const get = (host: string | null, p = '/health') =>
  raw(`GET ${p} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);

describe('health serve: Host header policy (DNS rebinding)', () => {
  it('answers loopback names with the right port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const r = await get(host);
      expect(r.status, host).toBe(200);
    }
  });

  it('refuses a foreign name, a wrong port or no Host with 421, on every path, without data', async () => {
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost`, '']) {
      for (const p of ['/', '/health', '/metrics', '/api/dashboard']) {
        const r = await get(host, p);
        expect(r.status, `${host} ${p}`).toBe(421);
        expect(r.text).toMatch(/host not allowed/);
        expect(r.text).not.toMatch(/"level"|deia_health/);
      }
    }
    const none = await raw('GET /health HTTP/1.0\r\n\r\n');
    expect([400, 421]).toContain(none.status);
  });
});

describe('health serve: idle sockets', () => {
  it('closes a socket that sends nothing, and one that never finishes its headers', async () => {
    for (const start of ['', `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`]) {
      const t0 = Date.now();
      const closed = await new Promise<number>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          if (start) s.write(start);
        });
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - t0));
        setTimeout(() => resolve(-1), 8000);
      });
      expect(closed, JSON.stringify(start)).toBeGreaterThan(0);
    }
  }, 20_000);

  it('still serves after idle sockets were dropped', async () => {
    expect((await get(`127.0.0.1:${port}`)).status).toBe(200);
  });
});
