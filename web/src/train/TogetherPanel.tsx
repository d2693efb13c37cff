/**
 * A together job's rounds and volunteers: per round the validation loss, what counted and the bytes the
 * round patch took against dense f32 updates; per volunteer its verdicts and why, its bytes and speed,
 * and the version it holds; the audit log to download and replay.
 */
import { DELIVERY_TEXT, relaySummary } from '../requester/version-relay';
import { formatBytes, type TrainSpec } from '@shared/jobs';
import { encodeAudit } from '@shared/jobs/together';

import { useTogether } from './together-view';
import { togetherAudit } from './together-run';
import { trainKv } from './boot';

const short = (s: string) => `${s.slice(0, 8)}…`;

export function TogetherPanel({
  spec,
  onDownload,
}: {
  spec: TrainSpec;
  onDownload: (name: string, bytes: Uint8Array) => void;
}) {
  const job = useTogether((s) => s.jobs[spec.id]);
  const rounds = job?.rounds ?? [];
  const providers = Object.values(job?.providers ?? {});
  const patch = rounds.reduce((s, r) => s + r.patchBytes, 0);
  const dense = rounds.reduce((s, r) => s + r.denseBytes, 0);
  const wall = rounds.reduce((s, r) => s + r.wallS, 0);
  const compute = rounds.reduce((s, r) => s + r.computeS, 0);
  const exportAudit = async () => {
    const patches = await togetherAudit(trainKv(), spec.id);
    onDownload(`${spec.id}.audit`, encodeAudit(spec, patches));
  };
  return (
    <section
      className="together"
      data-testid="together-panel"
      data-version={job?.versionHash ?? ''}
      data-receipts={job?.receipts ?? 0}
      data-receipts-logged={job?.receiptsLogged ?? 0}
      data-uploads={job?.relay?.uploads ?? 0}
      data-relayed={job?.relay?.relayed ?? 0}
      data-fallbacks={job?.relay?.fallbacks ?? 0}
    >
      <h3>Training together</h3>
      <p className="muted" data-testid="together-phase">
        {job?.phase ?? 'not started in this page'}
        {job?.versionHash ? ` · version ${short(job.versionHash)}` : ''}
      </p>
      {rounds.length > 0 ? (
        <p className="hint" data-testid="together-summary">
          {rounds.length} rounds · round patches {formatBytes(patch)} against {formatBytes(dense)} of dense f32 updates
          ({(dense / Math.max(1, patch)).toFixed(0)}× smaller) · time not spent training{' '}
          {((100 * Math.max(0, wall - compute)) / Math.max(wall, 1e-9)).toFixed(1)}%
          {job?.receipts ? ` · ${job.receipts} receipts signed, ${job.receiptsLogged ?? 0} in the server's log` : ''}
          {job?.relay?.uploads ? ` · ${relaySummary(job.relay)}` : ''}
        </p>
      ) : null}
      <table data-testid="together-providers">
        <caption>Volunteers</caption>
        <thead>
          <tr>
            <th scope="col">key</th>
            <th scope="col">shard</th>
            <th scope="col">accepted</th>
            <th scope="col">refused</th>
            <th scope="col">rating</th>
            <th scope="col">last round</th>
            <th scope="col">bytes</th>
            <th scope="col">tokens/s</th>
            <th scope="col">last version from</th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p) => (
            <tr
              key={p.peerId}
              data-testid="together-provider"
              data-peer={p.peerId}
              data-refused={p.refused}
              data-first-round={p.firstRound}
              data-first-refused={p.firstRefused}
              data-via={p.via ?? ''}
              title={p.firstReason ? `first refused in round ${p.firstRefused + 1}: ${p.firstReason}` : undefined}
            >
              <td title={p.peerId}>{short(p.peerId)}</td>
              <td>{p.shard + 1}</td>
              <td>{p.accepted}</td>
              <td>{p.refused}</td>
              <td>{p.rating.toFixed(2)}</td>
              <td>
                {p.lastStatus}
                {p.lastReason ? `: ${p.lastReason}` : ''}
              </td>
              <td>{p.bytes ? formatBytes(p.bytes) : '—'}</td>
              <td>{p.tokensPerS ? Math.round(p.tokensPerS).toLocaleString() : '—'}</td>
              <td>{DELIVERY_TEXT[p.via ?? '']}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table data-testid="together-rounds">
        <caption>Rounds</caption>
        <thead>
          <tr>
            <th scope="col">round</th>
            <th scope="col">validation loss</th>
            <th scope="col">accepted / refused / waiting</th>
            <th scope="col">round patch</th>
            <th scope="col">dense f32</th>
            <th scope="col">seconds (training)</th>
          </tr>
        </thead>
        <tbody>
          {rounds.slice(-12).map((r) => (
            <tr key={r.round} data-testid="together-round">
              <td>{r.round + 1}</td>
              <td>{r.valLoss.toFixed(4)}</td>
              <td>
                {r.accepted} / {r.refused} / {r.deferred}
              </td>
              <td>{formatBytes(r.patchBytes)}</td>
              <td>{formatBytes(r.denseBytes)}</td>
              <td>
                {r.wallS.toFixed(1)} ({r.computeS.toFixed(1)})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => void exportAudit()} data-testid="together-audit">
        Download audit log
      </button>
    </section>
  );
}
