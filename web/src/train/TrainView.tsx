/** Templar's Train tab: the form and this device's training jobs. */
import { useEffect, useState } from 'react';
import { useObservable } from '../app/hooks';
import { startTrainer } from './boot';
import { TrainForm } from './TrainForm';
import { TrainJobCard } from './TrainJobCard';
import { findBaseline } from './baseline';

export function TrainView() {
  const { trainer, ready } = startTrainer();
  const jobs = useObservable(trainer.jobs);
  const problems = useObservable(trainer.problems);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    ready.then(
      () => setLoaded(true),
      (e: unknown) =>
        setError(
          `Could not open the training store: ${e instanceof Error ? e.message : String(e)}. Allow site storage and reload.`,
        ),
    );
  }, [ready]);
  return (
    <section className="dashboard" data-testid="train-view" data-loaded={loaded}>
      <div className="panel-head">
        <h1>Templar · Train</h1>
        <span className="muted">
          GPT training in this tab (Web Worker) or on one provider; checkpoints stay in this browser
        </span>
      </div>
      {error ? (
        <div className="error" role="alert">
          {error}
        </div>
      ) : null}
      {problems.length > 0 ? (
        <div className="error" role="alert">
          Some stored training records were unreadable and are ignored: {problems.join('; ')}
        </div>
      ) : null}
      <TrainForm trainer={trainer} />
      <div className="jobs">
        {[...jobs].reverse().map((job) => (
          <TrainJobCard
            key={job.spec.id}
            job={job}
            trainer={trainer}
            onError={setError}
            baseline={job.spec.where === 'together' ? findBaseline(jobs, job.spec) : undefined}
          />
        ))}
      </div>
    </section>
  );
}
