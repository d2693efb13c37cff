/**
 * The volunteer's contribution: lifetime units and credited FLOPs (both kept
 * in IndexedDB, so a reload shows the same), units by day, rank on the public
 * leaderboard, and the receipts export. Thin view over the stores.
 */
import { useEffect, useState } from 'react';
import { BarChart } from '../app/BarChart';
import { Stat } from '../app/widgets';
import { fetchLeaderboard } from '../net/leaderboard';
import type { ContributionStore, DayTally } from '../storage/contribution-store';
import type { DisplayNameController } from './display-name';
import { DisplayNameForm } from './DisplayNameForm';
import type { ProviderView } from './provider-node';

/** The server's largest page (signaling LEADERBOARD_MAX_LIMIT): beyond it we say "not in the top 1000". */
const RANK_LIMIT = 1000;

export function ContributionPanel({
  view,
  contribution,
  peerId,
  onExport,
  names,
}: {
  view: ProviderView;
  contribution: ContributionStore;
  peerId: string | undefined;
  onExport: () => void;
  names: DisplayNameController | undefined;
}) {
  const [days, setDays] = useState<DayTally[]>([]);
  const [rank, setRank] = useState<string>('…');
  // The tally is written after each unit: re-read it when the count moves.
  useEffect(() => void contribution.load().then(() => setDays(contribution.byDay())), [contribution, view.unitsDone]);
  const receiptCount = view.credits?.receipts ?? 0;
  useEffect(() => {
    if (!peerId) return;
    const abort = new AbortController();
    fetchLeaderboard({ limit: RANK_LIMIT, signal: abort.signal }).then(
      (board) => {
        const i = board.rows.findIndex((r) => r.provider === peerId);
        setRank(
          i >= 0
            ? `#${i + 1} of ${board.rows.length}`
            : receiptCount
              ? `not in the top ${RANK_LIMIT}`
              : 'not ranked yet',
        );
      },
      () => !abort.signal.aborted && setRank('unavailable (server did not answer)'),
    );
    return () => abort.abort();
  }, [peerId, receiptCount]);
  const recent = days.slice(-14);
  return (
    <div className="panel" data-testid="contribution">
      <h2>Your contribution</h2>
      <div className="stats">
        <Stat label="units done (lifetime)" value={view.unitsDone} testId="lifetime-units" />
        <Stat label="credited" value={view.credits ? formatFlops(view.credits.flops) : '—'} testId="lifetime-flops" />
        <Stat label="receipts" value={receiptCount} testId="receipt-count" />
        <Stat
          label="rank"
          value={
            <a href="#/" title="The public leaderboard is on the home page">
              {rank}
            </a>
          }
          testId="rank"
        />
      </div>
      {names ? <DisplayNameForm names={names} /> : null}
      {recent.length ? (
        <BarChart
          labels={recent.map((d) => d.day)}
          values={recent.map((d) => d.units)}
          xLabel="day (UTC)"
          yLabel="units"
          testId="contribution-chart"
        />
      ) : (
        <p className="muted" data-testid="contribution-empty">
          No units yet: the chart by day starts with the first unit this browser runs.
        </p>
      )}
      {receiptCount > 0 ? (
        <button type="button" data-testid="export-receipts" onClick={onExport}>
          Export {receiptCount} receipts (JSON)
        </button>
      ) : null}
    </div>
  );
}

export function formatFlops(flops: number): string {
  const units = ['FLOP', 'kFLOP', 'MFLOP', 'GFLOP', 'TFLOP', 'PFLOP'];
  let value = flops;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(2)} ${units[i]}`;
}
