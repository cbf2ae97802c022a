/**
 * Connection strings carry passwords; nothing deia prints may. `redactUrl` is what errors, logs,
 * `--json` and the dashboard show; `scrub` removes the password from any text (an error message
 * from the driver, say) before it leaves the store.
 */

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** The password of a connection string (from its user info or a `password=` parameter), if any. */
export function passwordOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    const p = u.password ? decodeURIComponent(u.password) : u.searchParams.get('password') ?? undefined;
    return p || undefined;
  } catch {
    return /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(url)?.[1] || undefined;
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1***@').replace(/(password=)[^&]*/gi, '$1***');
  }
}

/** `text` without any occurrence of `secret` (raw or URL-encoded). */
export function scrub(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join('***');
  const enc = encodeURIComponent(secret);
  if (enc !== secret) out = out.split(enc).join('***');
  return out;
}

/**
 * The connection string given to the driver, so TLS settings mean what they mean to libpq users:
 * PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY fill in what the URL does not say, and
 * `uselibpqcompat=true` makes pg read sslmode with libpq's semantics (`require` encrypts without
 * verifying the certificate, `verify-ca` checks the CA, `verify-full` also the host name) rather
 * than pg's own (which treats every mode as verify-full, and warns on stderr).
 */
export function libpqConnectionString(url: string, env: NodeJS.ProcessEnv = process.env): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  const fill: Array<[string, string | undefined]> = [
    ['sslmode', env.PGSSLMODE],
    ['sslrootcert', env.PGSSLROOTCERT],
    ['sslcert', env.PGSSLCERT],
    ['sslkey', env.PGSSLKEY],
  ];
  for (const [k, v] of fill) if (v && !u.searchParams.has(k)) u.searchParams.set(k, v);
  if (u.searchParams.has('sslmode') && !u.searchParams.has('uselibpqcompat')) u.searchParams.set('uselibpqcompat', 'true');
  return u.toString();
}
