/** One Train job: status, live numbers, curves, samples, and its controls. */
import { useMemo } from 'react';
import { Badge, Stat } from '../app/widgets';
import { lossSeries, speedSeries } from './chart-data';
import { type ChartSeries, LineChart } from '../app/LineChart';
import type { Trainer, TrainJobView } from './trainer';
import { TogetherPanel } from './TogetherPanel';
import { newTrainJobId } from './form';

const LOSS_SERIES: readonly ChartSeries[] = [
  { label: 'train loss', stroke: '#3b82f6' },
  { label: 'validation loss', stroke: '#f97316' },
];
/** A together job's chart adds its single-worker baseline's validation loss. */
const LOSS_WITH_BASELINE: readonly ChartSeries[] = [
  ...LOSS_SERIES,
  { label: 'validation loss, one worker', stroke: '#8b5cf6' },
];
const SPEED_SERIES: readonly ChartSeries[] = [{ label: 'tokens/s', stroke: '#10b981' }];

function eta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '—';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function download(name: string, bytes: Uint8Array) {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function TrainJobCard({
  job,
  trainer,
  onError,
  baseline,
}: {
  job: TrainJobView;
  trainer: Trainer;
  onError: (m: string) => void;
  /** For a job trained together: its single-worker baseline, when one was run (baseline.ts). */
  baseline?: TrainJobView | undefined;
}) {
  const id = job.spec.id;
  // The history arrays grow in place; the revision says when to rebuild the chart's arrays.
  const loss = useMemo(
    () => lossSeries(job.history, baseline?.history),
    [job.history, job.revision, baseline?.history, baseline?.revision],
  );
  const speed = useMemo(() => speedSeries(job.history), [job.history, job.revision]);
  const tone =
    job.status === 'done' ? 'ok' : job.status === 'failed' ? 'bad' : job.status === 'running' ? 'ok' : 'idle';
  const act = (f: () => unknown) => () =>
    void Promise.resolve(f()).catch((e: unknown) => onError(e instanceof Error ? e.message : String(e)));
  const sample = job.history.samples.at(-1);
  const lastVal = job.history.val.at(-1);
  return (
    <article className="panel train-job" data-testid="train-job" data-job-id={id} data-status={job.status}>
      <div className="panel-head">
        <h2>{job.spec.name}</h2>
        <Badge tone={tone}>
          <span data-testid="train-status">{job.status}</span>
        </Badge>
        <span className="muted">{job.backend}</span>
      </div>
      <div
        className="progress"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={job.spec.steps}
        aria-valuenow={job.step}
        aria-label="training progress"
      >
        <div className="progress-fill" style={{ width: `${(100 * job.step) / job.spec.steps}%` }} />
        <span className="progress-text">
          step <span data-testid="train-step">{job.step}</span> / {job.spec.steps}
        </span>
      </div>
      <div className="stats">
        <Stat label="train loss" value={job.loss?.toFixed(4) ?? '—'} testId="train-loss" />
        <Stat
          label={`validation loss${lastVal ? ` (step ${lastVal[0]})` : ''}`}
          value={lastVal?.[1].toFixed(4) ?? '—'}
          testId="train-val-loss"
        />
        <Stat
          label="tokens/s"
          value={job.tokensPerS === null ? '—' : Math.round(job.tokensPerS).toLocaleString()}
          testId="train-speed"
        />
        <Stat label="ETA" value={job.status === 'running' ? eta(job.etaS) : '—'} testId="train-eta" />
        <Stat
          label="checkpoint"
          value={job.checkpointStep === null ? '—' : `step ${job.checkpointStep}`}
          testId="train-checkpoint"
        />
      </div>
      <div className="charts">
        <LineChart
          data={loss}
          series={baseline ? LOSS_WITH_BASELINE : LOSS_SERIES}
          title="loss"
          testId="train-loss-chart"
        />
        <LineChart data={speed} series={SPEED_SERIES} title="tokens/s" testId="train-speed-chart" />
      </div>
      {job.spec.where === 'together' ? (
        <>
          <TogetherPanel spec={job.spec} onDownload={download} />
          <Baseline job={job} baseline={baseline} onStart={act(() => trainer.createBaseline(id, newTrainJobId()))} />
        </>
      ) : null}
      {sample ? (
        <p className="sample">
          <span className="muted">step {sample.step}, greedy: </span>
          <q data-testid="train-sample">
            {job.spec.samplePrompt}
            {sample.text}
          </q>
        </p>
      ) : null}
      {job.history.skipped > 0 ? (
        <p className="muted">{job.history.skipped} steps skipped for a non-finite loss</p>
      ) : null}
      {job.message ? (
        <div className={job.status === 'failed' ? 'error' : 'hint'} role="alert" data-testid="train-message">
          {job.message}
        </div>
      ) : null}
      <div className="actions">
        {job.status === 'running' ? (
          <button type="button" onClick={act(() => trainer.pause(id))} data-testid="train-pause">
            Pause
          </button>
        ) : null}
        {job.status === 'paused' || job.status === 'failed' ? (
          <button type="button" onClick={act(() => trainer.resume(id))} data-testid="train-resume">
            Resume
          </button>
        ) : null}
        {job.status === 'running' || job.status === 'paused' || job.status === 'starting' ? (
          <button type="button" onClick={act(() => trainer.cancel(id))} data-testid="train-cancel">
            Cancel
          </button>
        ) : null}
        <button
          type="button"
          disabled={job.checkpointStep === null}
          onClick={act(async () => {
            const f = await trainer.checkpointFile(id);
            download(f.name, f.bytes);
          })}
          data-testid="train-download"
        >
          Download checkpoint (.safetensors)
        </button>
        <button
          type="button"
          disabled={job.checkpointStep === null}
          onClick={act(async () => {
            const f = await trainer.onnxFile(id);
            download(f.name, f.bytes);
          })}
          data-testid="train-export-onnx"
          title="input_ids int32 [batch, seq] → logits [batch, seq, vocab]; run it as a batch-inference job"
        >
          Export ONNX
        </button>
        {job.status !== 'running' && job.status !== 'starting' ? (
          <button type="button" onClick={act(() => trainer.remove(id))}>
            Delete
          </button>
        ) : null}
      </div>
    </article>
  );
}

/**
 * What training together cost against one worker: its validation loss beside the baseline's at the last
 * step both reached, or a button that starts the baseline on this device.
 */
function Baseline({
  job,
  baseline,
  onStart,
}: {
  job: TrainJobView;
  baseline: TrainJobView | undefined;
  onStart: () => void;
}) {
  if (!baseline)
    return (
      <p className="hint" data-testid="train-baseline">
        No single-worker baseline in this browser.{' '}
        <button type="button" onClick={onStart} data-testid="train-baseline-start">
          Train the one-worker baseline here
        </button>{' '}
        (same model, corpus and seed at batch {job.spec.batch * (job.spec.together?.providers ?? 1)} for{' '}
        {job.spec.steps} steps, in this tab) to put its validation loss on this chart.
      </p>
    );
  const mine = new Map(job.history.val);
  const both = baseline.history.val.filter(([step]) => mine.has(step)).at(-1);
  return (
    <p
      className="hint"
      data-testid="train-baseline"
      data-baseline={baseline.spec.id}
      data-ratio={both ? mine.get(both[0])! / both[1] : ''}
    >
      One-worker baseline “{baseline.spec.name}” ({baseline.status}, step {baseline.step}):{' '}
      {both
        ? `at step ${both[0]} validation loss ${mine.get(both[0])!.toFixed(4)} together against ${both[1].toFixed(4)} alone (${(mine.get(both[0])! / both[1]).toFixed(3)}×)`
        : 'no validation point at a step both have reached yet'}
      .
    </p>
  );
}
