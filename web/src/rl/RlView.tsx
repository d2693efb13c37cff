/** GRAIL's tab: RL jobs whose rollouts volunteers run, verified and learned from in this tab. */
import { useEffect, useState } from 'react';
import { startRl } from './boot';
import { RlForm } from './RlForm';
import { RlJobCard } from './RlJobCard';
import { useRl } from './rl-view';

export function RlView() {
  const { jobs, ready } = startRl();
  const views = useRl((s) => s.jobs);
  const problems = useRl((s) => s.problems);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    ready.then(
      () => setLoaded(true),
      (e: unknown) =>
        setError(
          `Could not open the RL store: ${e instanceof Error ? e.message : String(e)}. Allow site storage and reload.`,
        ),
    );
  }, [ready]);
  const list = Object.values(views).sort((a, b) => b.record.spec.createdAt - a.record.spec.createdAt);
  return (
    <section className="dashboard" data-testid="rl-view" data-loaded={loaded}>
      <div className="panel-head">
        <h1>GRAIL · Reinforcement learning</h1>
        <span className="muted">
          Volunteers roll out the policy; this tab checks every rollout, learns (GRPO) and sends each new version as a
          PULSE patch
        </span>
      </div>
      {error ? (
        <div className="error" role="alert">
          {error}
        </div>
      ) : null}
      {problems.length > 0 ? (
        <div className="error" role="alert">
          Some stored RL records were unreadable and are ignored: {problems.join('; ')}
        </div>
      ) : null}
      <RlForm jobs={jobs} />
      <div className="jobs">
        {list.map((job) => (
          <RlJobCard key={job.record.spec.id} job={job} jobs={jobs} />
        ))}
      </div>
    </section>
  );
}
