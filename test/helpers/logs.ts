/** Reading a hive's records directly, through the built library, on either backend (a folder or a postgres:// URL). */
type Lib = typeof import('../../src/index.js');
type Backend = Awaited<ReturnType<Lib['openBackend']>>;

export const lib = (): Promise<Lib> => import(process.env.DEIA_TEST_LIB!) as Promise<Lib>;

/** Open the backend at `where`, run `fn`, close it. */
export async function withBackend<R>(where: string, fn: (b: Backend) => Promise<R>): Promise<R> {
  const b = await (await lib()).openBackend(where);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Every record of a log, oldest first, as exported. */
export function logLines(where: string, log: string): Promise<Array<Record<string, unknown>>> {
  return withBackend(where, async (b) => {
    const out: Array<Record<string, unknown>> = [];
    for await (const line of b.log(log).exportLines()) out.push(JSON.parse(line));
    return out;
  });
}
