/**
 * One RL job: reward and held-out accuracy per step (charts), PULSE bytes per update against the whole
 * bf16 policy, every volunteer's verdicts and why, the version each holds, sample rollouts to read; pause,
 * roll back to a kept version, export the policy.
 */
import { DELIVERY_TEXT, relaySummary } from '../requester/version-relay';
import { formatBytes } from '@shared/jobs';
import { useMemo, useState } from 'react';
import { saveBlob } from '../app/save-file';
import { LineChart } from '../app/LineChart';
import type { RlJobs } from './rl-jobs';
import type { RlJobView } from './rl-view';

const short = (s: string) => `${s.slice(0, 8)}…`;
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const REWARD_SERIES = [
  { label: 'mean reward', stroke: '#2a7' },
  { label: 'held-out accuracy', stroke: '#37c' },
];
const BYTES_SERIES = [{ label: 'PULSE patch (KiB)', stroke: '#c63' }];

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function RlJobCard({ job, jobs }: { job: RlJobView; jobs: RlJobs }) {
  const { record } = job;
  const { spec, steps } = record;
  const id = spec.id;
  const [error, setError] = useState('');
  const [target, setTarget] = useState<number | null>(null);
  const act = (f: () => unknown) => async () => {
    setError('');
    try {
      await f();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const rewardData = useMemo(
    () => [steps.map((s) => s.version), steps.map((s) => s.meanReward), steps.map((s) => s.accuracy)] as const,
    [steps],
  );
  const bytesData = useMemo(
    () => [steps.map((s) => s.version), steps.map((s) => s.patchBytes / 1024)] as const,
    [steps],
  );
  const last = steps.at(-1);
  const patchMedian = median(steps.map((s) => s.patchBytes));
  const verifyS = steps.reduce((s, x) => s + x.verifyS, 0);
  const generateS = steps.reduce((s, x) => s + x.generateS, 0);
  const providers = Object.values(job.providers);
  const live = record.status === 'running' || record.status === 'warming' || record.status === 'paused';
  const rollTo = target ?? job.kept.filter((v) => v < job.version).at(-1) ?? null;
  const download = (format: 'safetensors' | 'onnx') =>
    act(async () => {
      const f = await jobs.export(id, format);
      saveBlob(new Blob([f.bytes as BlobPart]), f.name);
    });
  return (
    <article
      className="job"
      data-testid="rl-job"
      data-status={record.status}
      data-version={job.version}
      data-hash={job.versionHash}
      data-steps={steps.length}
      data-receipts={job.receipts}
      data-receipts-logged={job.receiptsLogged}
      data-uploads={job.relay.uploads}
      data-relayed={job.relay.relayed}
      data-fallbacks={job.relay.fallbacks}
      data-rewards={steps.map((s) => s.meanReward ?? '').join(',')}
    >
      <header>
        <h2>{spec.name || id}</h2>
        <span className="muted">
          {spec.task.kind === 'jsonl' ? `${spec.task.name} (${spec.task.lines} lines)` : spec.task.kind} · {spec.preset}{' '}
          · lr {spec.lr} · {spec.providers} volunteers × {spec.promptsPerProvider} prompts × {spec.samples} completions
        </span>
      </header>
      <p data-testid="rl-phase">
        <strong>{record.status}</strong>
        {job.phase ? ` · ${job.phase}` : ''}
        {job.versionHash ? ` · policy v${job.version} (${short(job.versionHash)})` : ''}
      </p>
      <p className="hint" data-testid="rl-summary">
        warm-up: {record.warmup ? `${record.warmup.steps} steps, accuracy ${pct(record.warmup.accuracy)}` : '—'} ·
        accuracy at RL start {pct(record.accuracyBefore)} → now {pct(last?.accuracy ?? record.accuracyBefore)} · last
        mean reward {pct(last?.meanReward)}
        {steps.length > 0 && record.modelBytes > 0
          ? ` · PULSE patch median ${formatBytes(patchMedian)} against ${formatBytes(record.modelBytes)} of bf16 policy (${(record.modelBytes / Math.max(1, patchMedian)).toFixed(0)}× smaller)`
          : ''}
        {generateS > 0
          ? ` · verification ${((100 * verifyS) / generateS).toFixed(1)}% of volunteers' generation time`
          : ''}
        {job.relay.uploads > 0 ? ` · ${relaySummary(job.relay)}` : ''}
      </p>
      {steps.length > 0 ? (
        <div className="charts">
          <LineChart
            data={rewardData}
            series={REWARD_SERIES}
            title="Reward and held-out accuracy"
            testId="rl-reward-chart"
            xLabel="version"
            yLabel="fraction"
          />
          <LineChart
            data={bytesData}
            series={BYTES_SERIES}
            title={`Bytes per update (whole policy: ${formatBytes(record.modelBytes)})`}
            testId="rl-bytes-chart"
            xLabel="version"
            yLabel="KiB"
          />
        </div>
      ) : null}
      <table data-testid="rl-providers">
        <caption>Volunteers</caption>
        <thead>
          <tr>
            <th scope="col">key</th>
            <th scope="col">backend</th>
            <th scope="col">holds</th>
            <th scope="col">last update from</th>
            <th scope="col">accepted</th>
            <th scope="col">refused (why)</th>
            <th scope="col">status</th>
          </tr>
        </thead>
        <tbody>
          {providers.map((p) => (
            <tr
              key={p.peerId}
              data-testid="rl-provider"
              data-peer={p.peerId}
              data-accepted={p.accepted}
              data-refused={p.refused}
              data-first-round={p.firstRound}
              data-first-refused={p.firstRefused}
              data-holds={p.holds}
              data-via={p.via}
              data-logprob-gap={p.logprobGap}
              data-boundary={p.boundary}
              title={`largest log-prob gap to this tab's recomputation ${p.logprobGap.toExponential(1)} nats; ${p.boundary} tokens at a CDF boundary`}
            >
              <td title={p.peerId}>{short(p.peerId)}</td>
              <td>{p.backend || '—'}</td>
              <td>
                {p.holdsVersion >= 0 ? `v${p.holdsVersion}${p.holds === job.versionHash ? ' (latest)' : ''}` : '—'}
              </td>
              <td>{DELIVERY_TEXT[p.via]}</td>
              <td>{p.accepted}</td>
              <td title={p.lastReason}>
                {p.refused}
                {p.refused > 0
                  ? ` (${Object.entries(p.reasons)
                      .map(([r, n]) => `${r} ${n}`)
                      .join(', ')})`
                  : ''}
              </td>
              <td>{p.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table data-testid="rl-steps">
        <caption>Steps</caption>
        <thead>
          <tr>
            <th scope="col">version</th>
            <th scope="col">mean reward</th>
            <th scope="col">accuracy</th>
            <th scope="col">accepted / refused</th>
            <th scope="col">patch</th>
            <th scope="col">clipped</th>
            <th scope="col">seconds</th>
          </tr>
        </thead>
        <tbody>
          {steps.slice(-10).map((s) => (
            <tr key={s.version} data-testid="rl-step" data-reward={s.meanReward ?? ''} data-accuracy={s.accuracy}>
              <td>v{s.version}</td>
              <td>{pct(s.meanReward)}</td>
              <td>{pct(s.accuracy)}</td>
              <td>
                {s.accepted} / {s.refused}
              </td>
              <td>{formatBytes(s.patchBytes)}</td>
              <td>{pct(s.clippedFraction)}</td>
              <td>{s.wallS.toFixed(1)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {record.samples.length > 0 ? (
        <table data-testid="rl-samples">
          <caption>Sample rollouts (accepted)</caption>
          <thead>
            <tr>
              <th scope="col">version</th>
              <th scope="col">prompt</th>
              <th scope="col">completion</th>
              <th scope="col">reward</th>
            </tr>
          </thead>
          <tbody>
            {record.samples.slice(0, 8).map((s, i) => (
              <tr key={`${s.version}-${i}`} data-testid="rl-sample">
                <td>v{s.version}</td>
                <td>
                  <code>{s.prompt}</code>
                </td>
                <td>
                  <code>{s.completion}</code>
                </td>
                <td>{s.reward}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {record.message ? (
        <div className={record.status === 'failed' ? 'error' : 'hint'} role="alert" data-testid="rl-message">
          {record.message}
        </div>
      ) : null}
      {error ? (
        <div className="error" role="alert">
          {error}
        </div>
      ) : null}
      <div className="actions">
        {record.status === 'running' || record.status === 'warming' ? (
          <button type="button" onClick={act(() => jobs.pause(id))} data-testid="rl-pause">
            Pause
          </button>
        ) : null}
        {record.status === 'paused' ? (
          <button type="button" onClick={act(() => jobs.resume(id))} data-testid="rl-resume">
            Resume
          </button>
        ) : null}
        {live ? (
          <button type="button" onClick={act(() => jobs.cancel(id))} data-testid="rl-cancel">
            Cancel
          </button>
        ) : null}
        {live && job.running && job.kept.some((v) => v < job.version) ? (
          <span>
            <select
              value={rollTo ?? ''}
              onChange={(e) => setTarget(Number(e.target.value))}
              data-testid="rl-rollback-version"
              aria-label="version to roll back to"
            >
              {job.kept
                .filter((v) => v < job.version)
                .map((v) => (
                  <option key={v} value={v}>
                    v{v}
                  </option>
                ))}
            </select>
            <button
              type="button"
              disabled={rollTo === null}
              onClick={act(() => rollTo !== null && jobs.rollback(id, rollTo))}
              data-testid="rl-rollback"
              title="Publish that version's weights as the next version (if reward collapsed)"
            >
              Roll back
            </button>
          </span>
        ) : null}
        <button type="button" onClick={download('safetensors')} data-testid="rl-export-checkpoint">
          Download policy (.safetensors)
        </button>
        <button type="button" onClick={download('onnx')} data-testid="rl-export-onnx">
          Export ONNX
        </button>
        {!live ? (
          <button type="button" onClick={act(() => jobs.remove(id))} data-testid="rl-delete">
            Delete
          </button>
        ) : null}
      </div>
    </article>
  );
}
