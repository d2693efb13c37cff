import { Badge, formatRate, ProgressBar, shortId, Sparkline, Stat } from '../app/widgets';
import type { JobView } from './job-view';
import type { JobSummary, Templar } from './templar';
import { JobActions } from './JobActions';
import { JobEventLog } from './JobEventLog';
import { JobHistoryPanel } from './JobHistoryPanel';
import { ModelVersions } from './ModelVersions';
import { describePolicy } from './policy';
import { ExplainedError } from './ExplainedError';

const STATUS_TONE = { running: 'ok', paused: 'warn', done: 'ok', failed: 'bad', cancelled: 'idle' } as const;

/** States in which a provider is (or is about to be) working for the job. */
const WITH_US = new Set(['connecting', 'sending-model', 'loading-model', 'working']);

/**
 * "Running" only while something can run: otherwise the card says what it
 * waits for — no provider at all included (defect 3: that showed a green
 * "running" with the hint under another panel).
 */
function waitingFor(view: JobView): string | undefined {
  if (view.status !== 'running') return undefined;
  if (view.waiting) return view.waiting;
  if (view.done >= view.total) return undefined;
  return view.providers.some((p) => WITH_US.has(p.state))
    ? undefined
    : 'Waiting for providers — open the provider page in another tab or on another machine.';
}

export function JobCard({ job, templar }: { job: JobSummary; templar: Templar }) {
  const { spec, view } = job;
  const waiting = waitingFor(view);

  return (
    <article className="panel job" tabIndex={-1} data-testid="job-card" data-job-id={spec.id} data-status={view.status}>
      <div className="panel-head">
        <h3>{spec.name}</h3>
        <Badge tone={waiting ? 'warn' : STATUS_TONE[view.status]}>
          <span data-testid="job-status">{waiting ? 'waiting' : view.status}</span>
        </Badge>
        <span className="muted">
          {spec.id} · {spec.model.name} · {spec.rows.toLocaleString()} rows in units of {spec.unitRows}
        </span>
      </div>
      <ProgressBar done={view.done} total={view.total} label={`job ${spec.id} progress`} />
      <dl className="policy" data-testid="job-policy">
        {describePolicy(spec).map((line) => (
          <div key={line.label}>
            <dt>{line.label}</dt>
            <dd data-testid={`policy-${line.label}`}>{line.value}</dd>
          </div>
        ))}
      </dl>
      <div className="stats">
        <Stat label="done" value={view.done} testId="units-complete" />
        <Stat label="in flight" value={view.inFlight} />
        <Stat label="rows / s now" value={view.status === 'running' ? formatRate(view.rowsPerSecond) : '—'} />
        <Stat label="spot checks (failed)" value={`${view.spotChecks.checked} (${view.spotChecks.failed})`} />
        <Stat label="verified" value={view.verification.verified} testId="units-verified" />
        <Stat label="accepted unchecked" value={view.verification.unchecked} testId="units-unchecked" />
        <Stat label="pending" value={view.total - view.done} testId="units-pending" />
        <Stat label="rejected" value={view.verification.rejected} testId="units-rejected" />
        <Stat label="receipts (logged)" value={`${view.receipts.issued} (${view.receipts.logged})`} testId="receipts" />
        <Stat
          label="providers"
          value={view.providers.filter((p) => p.state === 'working').length}
          testId="provider-count"
        />
      </div>
      {waiting ? (
        <p className="hint waiting" data-testid="job-waiting" role="status">
          {waiting}
        </p>
      ) : null}
      {view.status === 'running' ? <Sparkline values={view.history} label="rows per second" unit="rows/s" /> : null}
      <JobHistoryPanel job={job} />
      <ModelVersions jobId={spec.id} view={view} templar={templar} />
      {view.status === 'failed' && view.message ? (
        <div className="error" role="alert">
          <ExplainedError text={view.message} prefix="Job failed: " testId="job-failure" />
        </div>
      ) : view.message ? (
        <p className="muted">{view.message}</p>
      ) : null}
      {view.verification.reasons.length ? (
        <details open>
          <summary>Rejected results and why</summary>
          <ul data-testid="rejections">
            {view.verification.reasons.map((r, i) => (
              <li key={i}>
                <ExplainedError text={r} />
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {view.providers.length ? (
        <table className="providers">
          <thead>
            <tr>
              <th>provider</th>
              <th>state</th>
              <th>backend</th>
              <th>GFLOP/s</th>
              <th>units</th>
              <th>failed</th>
              <th>ms / unit</th>
              <th>note</th>
            </tr>
          </thead>
          <tbody>
            {view.providers.map((p) => (
              <tr key={p.peerId}>
                <td title={p.peerId}>{shortId(p.peerId)}</td>
                <td>
                  {p.state}
                  {p.modelCached ? ' (model cached)' : ''}
                </td>
                <td>{p.backend ?? '—'}</td>
                <td>{p.gflops?.toFixed(1) ?? '—'}</td>
                <td>{p.unitsDone}</td>
                <td>{p.unitsFailed}</td>
                <td>{p.meanComputeMs ? p.meanComputeMs.toFixed(1) : '—'}</td>
                <td className="note" data-testid="provider-note">
                  {p.note ? <ExplainedError text={p.note} /> : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <JobEventLog job={job} templar={templar} />
      <JobActions job={job} templar={templar} />
    </article>
  );
}
