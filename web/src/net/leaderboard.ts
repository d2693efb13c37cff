/**
 * Typed fetch of the server's public leaderboard (signaling SPEC HTTP9). The
 * JSON is validated with the shared schema: a proxy, an old server or a hostile
 * origin must not put unchecked values into the page. No React here.
 */
import * as v from 'valibot';
import { LeaderboardResponseSchema, TRUST_PATHS, type LeaderboardResponse } from '@shared/protocol';
import { messageOf } from '@shared/errors';

export type { LeaderboardResponse, LeaderboardRow } from '@shared/protocol';

export interface FetchLeaderboardOptions {
  /** Rows wanted, 1–1000 (server default 100). */
  limit?: number;
  /** Only providers credited by at least this many distinct requesters (1–16). */
  minRequesters?: number;
  /** Server origin; defaults to the page's own. */
  baseUrl?: string;
  signal?: AbortSignal;
  /** Injectable for tests and for Node. */
  fetch?: typeof fetch;
}

export class LeaderboardError extends Error {
  override readonly name = 'LeaderboardError';
  constructor(
    message: string,
    /** HTTP status when the server answered, else undefined (network error, bad JSON). */
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function fetchLeaderboard(options: FetchLeaderboardOptions = {}): Promise<LeaderboardResponse> {
  const base = options.baseUrl ?? globalThis.location?.origin;
  if (!base) throw new LeaderboardError('no server origin: pass baseUrl');
  const url = new URL(TRUST_PATHS.leaderboard, base);
  if (options.limit !== undefined) url.searchParams.set('limit', String(options.limit));
  if (options.minRequesters !== undefined) url.searchParams.set('minRequesters', String(options.minRequesters));
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await doFetch(url, { signal: options.signal, headers: { accept: 'application/json' } });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new LeaderboardError(`leaderboard unreachable: ${error instanceof Error ? error.message : messageOf(error)}`);
  }
  if (!response.ok) throw new LeaderboardError(`leaderboard: HTTP ${response.status}`, response.status);
  let raw: unknown;
  try {
    raw = await response.json();
  } catch {
    throw new LeaderboardError('leaderboard: response is not JSON', response.status);
  }
  const parsed = v.safeParse(LeaderboardResponseSchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new LeaderboardError(
      `leaderboard: unexpected shape at ${v.getDotPath(issue) ?? 'response'}: ${issue.message}`,
      response.status,
    );
  }
  return parsed.output;
}
