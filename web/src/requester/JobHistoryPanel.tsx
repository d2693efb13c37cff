/**
 * A job's history as stored: when it was created and finished, how long it
 * ran, its true average rows/s, the ETA while it runs, and what each provider
 * delivered, with progress and per-provider throughput charts. Everything
 * here reads the stored record, so a reload shows the same figures.
 */
import { useMemo } from 'react';
import { averageRowsPerSecond, etaMs, formatDuration, providerRowsPerSecond, type JobHistory } from '@shared/jobs';
import { BarChart } from '../app/BarChart';
import { LineChart, type ChartSeries } from '../app/LineChart';
import { formatRate, shortId } from '../app/widgets';
import type { JobSummary } from './templar';

const PROGRESS_SERIES: readonly ChartSeries[] = [{ label: 'rows done', stroke: '#7aa2ff' }];

const when = (ms: number) => new Date(ms).toLocaleString();

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

/** The progress curve: rows done against the job's running time in seconds. */
function progressColumns(record: JobHistory): [number[], number[]] {
  const points: (readonly [number, number])[] = [[0, 0], ...record.progress];
  return [points.map(([t]) => Math.round(t / 100) / 10), points.map(([, rows]) => rows)];
}

export function JobHistoryPanel({ job }: { job: JobSummary }) {
  const { spec, view } = job;
  const record = view.record;
  const running = view.status === 'running';
  const average = averageRowsPerSecond(record);
  const eta = running ? etaMs(record, spec.rows) : undefined;
  const providers = useMemo(
    () => [...record.providers].sort((a, b) => b.rows - a.rows || a.peerId.localeCompare(b.peerId)),
    [record.providers],
  );
  const progress = useMemo(() => progressColumns(record), [record]);
  const labels = useMemo(() => providers.map((p) => shortId(p.peerId)), [providers]);
  const rates = useMemo(() => providers.map((p) => Math.round(providerRowsPerSecond(p) * 10) / 10), [providers]);
  const elapsed = (record.finishedAt ?? (running ? Date.now() : record.createdAt + record.activeMs)) - record.createdAt;

  return (
    <section className="history" data-testid="job-history" aria-label={`history of job ${spec.id}`}>
      <dl className="policy" data-testid="history-figures">
        <Figure label="created" value={when(record.createdAt)} testId="history-created" />
        <Figure
          label="finished"
          value={record.finishedAt ? when(record.finishedAt) : running ? 'not yet' : '—'}
          testId="history-finished"
        />
        <Figure label="elapsed" value={formatDuration(Math.max(0, elapsed))} testId="history-elapsed" />
        <Figure label="running time" value={formatDuration(record.activeMs)} testId="history-active" />
        <Figure
          label="rows done"
          value={`${record.rowsDone.toLocaleString()} of ${spec.rows.toLocaleString()}`}
          testId="history-rows"
        />
        <Figure label="average rows / s" value={formatRate(average)} testId="history-average" />
        {running ? (
          <Figure
            label="ETA"
            value={eta === undefined ? 'after the first results' : formatDuration(eta)}
            testId="history-eta"
          />
        ) : null}
      </dl>
      {providers.length ? (
        <table className="ledger" data-testid="history-providers">
          <caption className="muted">What each provider delivered over the whole job</caption>
          <thead>
            <tr>
              <th scope="col">provider</th>
              <th scope="col">units</th>
              <th scope="col">rows</th>
              <th scope="col">rows / s</th>
            </tr>
          </thead>
          <tbody>
            {providers.map((p, i) => (
              <tr key={p.peerId} data-testid="history-provider">
                <td title={p.peerId}>{labels[i]}</td>
                <td>{p.units}</td>
                <td>{p.rows.toLocaleString()}</td>
                <td>{formatRate(providerRowsPerSecond(p))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {record.progress.length ? (
        <div className="charts">
          <LineChart
            data={progress}
            series={PROGRESS_SERIES}
            title="progress"
            xLabel="running time (s)"
            yLabel="rows done"
            testId="history-progress-chart"
          />
          {providers.length ? (
            <BarChart
              labels={labels}
              values={rates}
              xLabel="provider"
              yLabel="rows / s"
              tick={(label) => label}
              testId="history-provider-chart"
            />
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
