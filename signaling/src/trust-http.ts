/**
 * Public, read-only HTTP views of the receipt log (SPEC HTTP9–HTTP12): the
 * leaderboard, one provider's receipts, the log head and pages of the whole log,
 * so anyone can re-verify the chain and every signature offline.
 * Every response is bounded; query numbers are validated, never trusted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRUST_PATHS } from '@shared/protocol';
import * as C from './constants';
import type { TrustLedger } from './ledger';
import { send } from './static-files';

const PEER_ID = /^[A-Za-z0-9_-]{43}$/;

class BadQuery extends Error {}

/** Returns false when the path is not a trust endpoint (the caller serves static files). */
export async function handleTrustHttp(
  ledger: TrustLedger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const isTrust =
    path === TRUST_PATHS.leaderboard ||
    path === TRUST_PATHS.log ||
    path === TRUST_PATHS.logHead ||
    path.startsWith(TRUST_PATHS.receipts);
  if (!isTrust) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return true;
  }
  try {
    const int = (name: string, fallback: number, min: number, max: number) => {
      const text = url.searchParams.get(name);
      if (text === null || text === '') return fallback;
      const n = Number(text);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new BadQuery(`${name} must be an integer from ${min} to ${max}`);
      return n;
    };
    if (path === TRUST_PATHS.leaderboard) {
      const limit = int('limit', C.LEADERBOARD_DEFAULT_LIMIT, 1, C.LEADERBOARD_MAX_LIMIT);
      const minRequesters = int('minRequesters', 1, 1, C.LEADERBOARD_MAX_MIN_REQUESTERS);
      json(res, 200, ledger.leaderboard(limit, minRequesters));
    } else if (path === TRUST_PATHS.logHead) {
      json(res, 200, ledger.head);
    } else if (path === TRUST_PATHS.log) {
      const offset = int('offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = int('limit', C.LOG_PAGE_DEFAULT, 1, C.LOG_PAGE_MAX);
      const entries = await ledger.entries(offset, limit);
      json(res, 200, { head: ledger.head, offset, entries, next: next(offset, entries.length, ledger.head.length) });
    } else {
      const provider = decodeURIComponentSafe(path.slice(TRUST_PATHS.receipts.length));
      if (provider === null || !PEER_ID.test(provider)) throw new BadQuery('path must be /receipts/<provider peer id>');
      const offset = int('offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = int('limit', C.LOG_PAGE_DEFAULT, 1, C.LOG_PAGE_MAX);
      const { total, entries } = await ledger.receiptsOf(provider, offset, limit);
      json(res, 200, {
        provider,
        head: ledger.head,
        total,
        offset,
        entries,
        next: next(offset, entries.length, total),
      });
    }
  } catch (error) {
    if (!(error instanceof BadQuery)) throw error;
    json(res, 400, { error: error.message });
  }
  return true;
}

/** Offset of the next page, or null on the last one. */
const next = (offset: number, count: number, total: number) => (offset + count < total ? offset + count : null);

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function decodeURIComponentSafe(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
