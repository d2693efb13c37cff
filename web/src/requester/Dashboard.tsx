import { useEffect, useState } from 'react';
import { Observable } from '../core/emitter';
import { useObservable } from '../app/hooks';
import { Badge, shortId } from '../app/widgets';
import { startRequester } from './boot';
import { JobCard } from './JobCard';
import { JobForm } from './JobForm';
import { JobList } from './JobList';
import type { JobSummary, Templar } from './templar';

const NO_JOBS = new Observable<JobSummary[]>([]);
const NO_NOTICES = new Observable<string[]>([]);

export function Dashboard() {
  const runtime = startRequester();
  const connection = useObservable(runtime.connection);
  const peerId = useObservable(runtime.peerId);
  const [templar, setTemplar] = useState<Templar>();
  const [error, setError] = useState<string>();
  useEffect(
    () => void runtime.templar.then(setTemplar, (e: unknown) => setError(e instanceof Error ? e.message : String(e))),
    [runtime],
  );
  const jobs = useObservable(templar?.jobs ?? NO_JOBS);
  const notices = useObservable(templar?.notices ?? NO_NOTICES);

  return (
    <section className="dashboard">
      <div className="panel-head">
        <h1>Templar</h1>
        <Badge tone={connection === 'open' ? 'ok' : 'warn'}>
          <span data-testid="requester-connection">{connection}</span>
        </Badge>
        <span className="muted">requester {shortId(peerId)}</span>
      </div>
      {error ? (
        <div className="error" role="alert">
          Could not open the job store: {error}. Allow site storage for this page and reload.
        </div>
      ) : null}
      {notices.length > 0 ? (
        <ul className="panel notices" data-testid="storage-notices">
          {notices.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
      {templar ? <JobForm templar={templar} /> : <p className="muted">Loading jobs…</p>}
      <JobList jobs={jobs} />
      <div className="jobs">
        {templar && jobs.map((job) => <JobCard key={job.spec.id} job={job} templar={templar} />)}
      </div>
    </section>
  );
}
