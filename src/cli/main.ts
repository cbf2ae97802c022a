/**
 * Entry point of the bundled CLI. `deia --version` answers before anything else is
 * evaluated; otherwise the program and only the command being run are initialised
 * (esbuild keeps each lazily imported module behind its own init function).
 */
import { VERSION } from './version.js';

const argv = process.argv.slice(2);

// A reader that goes away (`deia inbox | head -1`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const isVersion = (a: string) => a === '--version' || a === '-V';
if (argv.some(isVersion) && argv.every((a) => isVersion(a) || a === '--json')) {
  // `--version --json`: for programs checking which deia (and Node) they talk to.
  process.stdout.write(argv.includes('--json') ? `${JSON.stringify({ name: 'deia', version: VERSION, node: process.version })}\n` : `${VERSION}\n`);
} else {
  void import('./program.js').then(async ({ run }) => {
    // The build warms V8's code cache (see bin/deia.js) by running several everyday commands
    // in this one process, so the cache holds the code paths bots use most.
    const warm = process.env.DEIA_WRITE_CODE_CACHE === '1' ? process.env.DEIA_WARM_ARGS : undefined;
    if (warm) {
      for (const args of JSON.parse(warm) as string[][]) await run(args);
      return;
    }
    process.exitCode = await run(argv);
  });
}
