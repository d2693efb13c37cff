/** Every job in one table, newest first: status, when, how long, and its true average (issue 21's job history). */
import type { MouseEvent } from 'react';
import { averageRowsPerSecond, formatDuration } from '@shared/jobs';
import { formatRate } from '../app/widgets';
import type { JobSummary } from './templar';

export function JobList({ jobs }: { jobs: readonly JobSummary[] }) {
  if (jobs.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="job-list-title">
      <h2 id="job-list-title">Job history</h2>
      <div className="scroll-x">
        <table className="ledger" data-testid="job-list">
          <thead>
            <tr>
              <th scope="col">job</th>
              <th scope="col">status</th>
              <th scope="col">created</th>
              <th scope="col">finished</th>
              <th scope="col">running time</th>
              <th scope="col">rows</th>
              <th scope="col">avg rows / s</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map(({ spec, view }) => (
              <tr key={spec.id} data-testid="job-list-row" data-job-id={spec.id}>
                <td>
                  <a href={`#/request`} onClick={(e) => jump(e, spec.id)}>
                    {spec.name}
                  </a>
                </td>
                <td>{view.status}</td>
                <td>{new Date(view.record.createdAt).toLocaleString()}</td>
                <td>{view.record.finishedAt ? new Date(view.record.finishedAt).toLocaleString() : '—'}</td>
                <td>{formatDuration(view.record.activeMs)}</td>
                <td>
                  {view.record.rowsDone.toLocaleString()} / {spec.rows.toLocaleString()}
                </td>
                <td>{formatRate(averageRowsPerSecond(view.record))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The app routes on the hash, so a job's card is reached by scrolling to it, not by an anchor. */
function jump(event: MouseEvent, jobId: string): void {
  event.preventDefault();
  const card = document.querySelector<HTMLElement>(`[data-testid="job-card"][data-job-id="${CSS.escape(jobId)}"]`);
  card?.scrollIntoView({ block: 'start' });
  card?.focus();
}
