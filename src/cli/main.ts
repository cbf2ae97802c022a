/**
 * Entry point of the bundled CLI. Kept tiny: `deia --version` answers without loading
 * commander, and everything else loads only the program and the one command being run.
 */
import { VERSION } from './version.js';

const argv = process.argv.slice(2);

// A reader that goes away (`deia inbox | head -1`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const { run } = await import('./program.js');
  process.exitCode = await run(argv);
}
