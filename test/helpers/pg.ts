import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

/** The test server's URL; throws (so the test fails, never skips) when there is none. */
export function pgUrl(): string {
  const url = process.env.DEIA_TEST_PG_URL;
  if (!url) {
    throw new Error(`PostgreSQL is needed for this test and none is reachable: ${process.env.DEIA_TEST_PG_ERROR ?? 'DEIA_TEST_PG_URL is not set'} (run scripts/pg-throwaway.sh start, or install postgresql)`);
  }
  return url;
}

/** A URL for the same server with a different database name. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

/** A new empty database on the test server (dropped by the returned function). */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = pgUrl();
  const { default: pg } = await import('pg');
  const name = `deia_t_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return {
    url: withDatabase(admin, name),
    drop: async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      try {
        await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await d.end();
      }
    },
  };
}

/** Crash-restart the test server (pg_ctl restart -m immediate): only for a server the tests started. */
export function restartImmediate(): void {
  const dir = process.env.DEIA_TEST_PG_DIR;
  if (!dir) throw new Error('DEIA_TEST_PG_DIR is not set: the restart test needs a server started by scripts/pg-throwaway.sh');
  execFileSync('bash', ['scripts/pg-throwaway.sh', 'restart-immediate', dir], { stdio: 'inherit' });
}
