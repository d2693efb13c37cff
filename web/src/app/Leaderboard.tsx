/** The public leaderboard: providers by credit (FLOPs of accepted work), from GET /leaderboard. */
import { useEffect, useState } from 'react';
import { fetchLeaderboard, type LeaderboardResponse } from '../net/leaderboard';
import { shortId } from './widgets';
import { messageOf } from '@shared/errors';

type State = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; data: LeaderboardResponse };

export interface LeaderboardProps {
  limit?: number;
  /** Only providers credited by this many distinct requesters (guards against self-credit). */
  minRequesters?: number;
  /** Server origin; defaults to the page's own. */
  baseUrl?: string;
}

export function Leaderboard({ limit = 20, minRequesters, baseUrl }: LeaderboardProps) {
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    const abort = new AbortController();
    setState({ kind: 'loading' });
    fetchLeaderboard({ limit, minRequesters, baseUrl, signal: abort.signal }).then(
      (data) => setState({ kind: 'ready', data }),
      (error: unknown) => {
        if (!abort.signal.aborted)
          setState({ kind: 'error', message: error instanceof Error ? error.message : messageOf(error) });
      },
    );
    return () => abort.abort();
  }, [limit, minRequesters, baseUrl]);

  if (state.kind === 'loading')
    return (
      <p className="muted" data-testid="leaderboard-loading">
        Loading leaderboard…
      </p>
    );
  if (state.kind === 'error')
    return (
      <p className="error" role="alert" data-testid="leaderboard-error">
        Could not load the leaderboard: {state.message}
      </p>
    );
  const { rows, providers, head } = state.data;
  if (rows.length === 0)
    return (
      <p className="muted" data-testid="leaderboard-empty">
        No credited work yet.
      </p>
    );
  return (
    <section data-testid="leaderboard">
      <table className="providers">
        <thead>
          <tr>
            <th>#</th>
            <th>Provider</th>
            <th>Units</th>
            <th>Credits (GFLOP)</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={row.provider}>
              <td>{i + 1}</td>
              <td title={row.provider} data-testid="leaderboard-provider">
                {/* A signed name (SPEC NAME2) instead of the key prefix; bdi keeps a right-to-left name from reordering the row. */}
                {row.name ? <bdi>{row.name}</bdi> : <code>{shortId(row.provider)}</code>}
              </td>
              <td>{row.units.toLocaleString()}</td>
              <td>{formatGflop(row.flops)}</td>
              <td>{formatWhen(row.lastCreditedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        {providers.toLocaleString()} providers credited · log of {head.length.toLocaleString()} receipts, head{' '}
        <code title={head.hash}>{head.hash.slice(0, 12)}</code>
      </p>
    </section>
  );
}

function formatGflop(flops: number): string {
  const g = flops / 1e9;
  return g >= 100 ? Math.round(g).toLocaleString() : g.toFixed(g >= 1 ? 1 : 3);
}

function formatWhen(ms: number): string {
  return ms > 0 ? new Date(ms).toLocaleString() : '—';
}
