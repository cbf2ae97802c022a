/**
 * Several machines, one PostgreSQL hive: the test makes two network namespaces (separate network
 * stacks, as two hosts have), joined to this host by veth pairs; PostgreSQL is reached from each
 * through the host side of its link (a TCP relay on the host's veth addresses, as a server's port
 * would be on a LAN, so the throwaway server itself keeps listening on loopback only). Bots in
 * each namespace send to and claim from each other with the real CLI: every message is claimed
 * exactly once, none is lost. Needs root (ip netns) and the test server: fails without, never skips.
 */
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deia, mainPath } from './helpers/cli.js';
import { freshDatabase, pgUrl } from './helpers/pg.js';

const tag = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
const octet = 1 + Math.floor(Math.random() * 250);
const hosts = [
  { ns: `deia-a${tag}`, host: `10.231.${octet}.1`, peer: `10.231.${octet}.2`, veth: `dva${tag}`, inner: `dvi${tag}` },
  { ns: `deia-b${tag}`, host: `10.232.${octet}.1`, peer: `10.232.${octet}.2`, veth: `dvb${tag}`, inner: `dvj${tag}` },
];

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function relay(listenHost: string, port: number, target: { host: string; port: number }): Promise<net.Server> {
  const server = net.createServer((c) => {
    const up = net.connect(target.port, target.host);
    c.pipe(up).pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenHost, () => resolve(server));
  });
}

function inNs(ns: string, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, mainPath(), ...args], {
      env: { ...process.env, NO_COLOR: '1', DEIA_BOT: '', DEIA_DIR: '', DEIA_STORE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('bots on two hosts (network namespaces) share one PostgreSQL hive', () => {
  const relays: net.Server[] = [];
  let db: { url: string; drop: () => Promise<void> };
  let relayPort = 0;

  beforeAll(async () => {
    pgUrl(); // fail now, clearly, if there is no server
    for (const h of hosts) {
      ip('netns', 'add', h.ns);
      ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.inner);
      ip('link', 'set', h.inner, 'netns', h.ns);
      ip('addr', 'add', `${h.host}/24`, 'dev', h.veth);
      ip('link', 'set', h.veth, 'up');
      ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.peer}/24`, 'dev', h.inner);
      ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.inner, 'up');
      ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    db = await freshDatabase();
    expect(deia(['init', '--store', db.url]).code).toBe(0);
    const pg = new URL(db.url);
    relayPort = 20000 + Math.floor(Math.random() * 20000);
    for (const h of hosts) relays.push(await relay(h.host, relayPort, { host: pg.hostname, port: Number(pg.port) }));
  }, 60_000);

  afterAll(async () => {
    for (const r of relays) await new Promise((res) => r.close(res));
    for (const h of hosts) {
      try {
        ip('netns', 'del', h.ns); // takes its end of the veth pair, and so the pair, with it
      } catch {
        // never created
      }
    }
    await db?.drop();
  });

  it('each host sends to the other and claims its own mail: every message claimed exactly once, none lost', async () => {
    const urlFrom = (h: (typeof hosts)[number]) => {
      const u = new URL(db.url);
      u.hostname = h.host;
      u.port = String(relayPort);
      return u.toString();
    };
    const bots = [
      { bot: 'ALPHA', peer: 'BETA', h: hosts[0]! },
      { bot: 'BETA', peer: 'ALPHA', h: hosts[1]! },
    ];
    // Each bot looks at its inbox once (it exists), from its own host.
    for (const b of bots) {
      const r = await inNs(b.h.ns, ['--store', urlFrom(b.h), 'inbox', '--as', b.bot]);
      expect(r.code, r.stderr).toBe(0);
    }
    const PER_SENDER = 15;
    let sending = true;
    const senders = bots.flatMap((b) =>
      [0, 1].map(async (k) => {
        const lines = Array.from({ length: PER_SENDER }, (_, i) => JSON.stringify({ to: b.peer, body: `${b.bot}-${k}-${i}` })).join('\n');
        const r = await inNs(b.h.ns, ['--store', urlFrom(b.h), 'send', '--stdin-jsonl', '--as', b.bot, '--json'], lines);
        expect(r.code, r.stderr).toBe(0);
        return (JSON.parse(r.stdout) as Array<{ message_id: string; to_bot: string }>).map((m) => [m.message_id, m.to_bot] as const);
      }),
    );
    const claims = new Map<string, string[]>(); // message id -> claiming bots
    const claimers = bots.flatMap((b) =>
      [0, 1].map(async () => {
        const deadline = Date.now() + 150_000;
        for (;;) {
          const done = !sending;
          const r = await inNs(b.h.ns, ['--store', urlFrom(b.h), 'inbox', '--next', '--json', '--as', b.bot]);
          if (r.code === 0) {
            const m = JSON.parse(r.stdout) as { message_id: string; to_bot: string };
            expect(m.to_bot).toBe(b.bot);
            claims.set(m.message_id, [...(claims.get(m.message_id) ?? []), b.bot]);
          } else {
            expect(r.code, r.stderr).toBe(1);
            if (done || Date.now() > deadline) return;
          }
        }
      }),
    );
    const sent = (await Promise.all(senders)).flat();
    sending = false;
    await Promise.all(claimers);
    expect(sent).toHaveLength(4 * PER_SENDER);
    for (const [id, to] of sent) expect(claims.get(id), id).toEqual([to]);
    expect(claims.size).toBe(sent.length);
  }, 240_000);
});
