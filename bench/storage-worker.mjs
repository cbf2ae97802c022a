// A process of the storage bench (bench/storage.bench.mjs), using the built library.
//   claim <where> <queue>   print "ready", wait for "go" on stdin, claim until empty, print "done <count> <ms>"
//   wait <where> <queue>    print "ready"; then for each item: claim it, print "got <id> <epoch ms, fractional>"
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { openBackend } = await import(path.join(root, 'dist/lib/index.mjs'));
const [mode, where, queue] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const b = await openBackend(where, { pollMs: 60_000 });

if (mode === 'claim') {
  process.stdout.write('ready\n');
  await new Promise((r) => process.stdin.once('data', r));
  const t0 = now();
  let n = 0;
  while (await b.queues.claimNext(queue, { by: String(process.pid) })) n++;
  process.stdout.write(`done ${n} ${now() - t0}\n`);
  await b.close();
} else if (mode === 'wait') {
  const w = await b.watch([{ queue }]);
  process.stdout.write('ready\n');
  process.stdin.on('end', () => process.exit(0)); // the bench is done with us
  process.stdin.resume();
  for (;;) {
    const it = await b.queues.claimNext(queue);
    if (it) {
      process.stdout.write(`got ${it.id} ${now()}\n`);
      continue;
    }
    await w.changed({ timeoutMs: 60_000 });
  }
}
