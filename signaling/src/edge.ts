/**
 * The HTTP edge (SPEC EDGE*): who a connection is (behind a trusted reverse
 * proxy, the client address from X-Forwarded-For) and whether a WebSocket
 * upgrade may proceed (Origin allow-list). Pure functions; server.ts applies them.
 */
import { isIP } from 'node:net';

/** `::ffff:1.2.3.4` (IPv4 on a dual-stack socket) is 1.2.3.4, so one client has one address. */
export function normalizeIp(address: string): string {
  const lower = address.trim().toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * The client's address: the socket's, unless that is a trusted proxy, in which
 * case X-Forwarded-For is walked from the right past every trusted proxy. Hops
 * left of the first untrusted one were written by the client and are ignored;
 * a malformed hop stops the walk at the last address known good.
 */
export function clientIp(
  socketAddress: string,
  forwardedFor: string | string[] | undefined,
  trusted: ReadonlySet<string>,
): string {
  let ip = normalizeIp(socketAddress);
  if (!trusted.has(ip) || forwardedFor === undefined) return ip;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0 && trusted.has(ip); i--) {
    const hop = normalizeIp(hops[i]!);
    if (!isIP(hop)) break;
    ip = hop;
  }
  return ip;
}

/**
 * Whether a WebSocket upgrade from a page on `origin` may proceed. No Origin
 * header: not a browser page (a browser always sends one), allowed — such a
 * client can claim any origin anyway. Otherwise the page must be the server's own
 * origin (same host as the request's Host) or on the allow-list ('*' allows all).
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (host !== undefined && parsed.host === host.toLowerCase()) return true;
  return allowed.includes(parsed.origin);
}
