/** The Train job form: thin over form.ts (values → spec) and the shared memory estimate. */
import { checkFits, estimateTrainMemory, formatBytes } from '@shared/jobs';
import { type GptConfig, PRESETS } from '@shared/train';
import { topKFor } from '@shared/jobs/together';
import { type FormEvent, useState } from 'react';
import {
  corpusFromFile,
  DEFAULT_FORM,
  newTrainJobId,
  specFromForm,
  type TrainFormValues,
  type UploadedCorpus,
} from './form';
import type { Trainer } from './trainer';
import { NumberField } from '../app/widgets';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function TrainForm({ trainer }: { trainer: Trainer }) {
  const [f, setF] = useState<TrainFormValues>(DEFAULT_FORM);
  const [upload, setUpload] = useState<UploadedCorpus | null>(null);
  const [initial, setInitial] = useState<{ name: string; bytes: Uint8Array } | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof TrainFormValues>(k: K, v: TrainFormValues[K]) => setF((x) => ({ ...x, [k]: v }));
  const setCustom = (k: keyof TrainFormValues['custom'], v: number) =>
    setF((x) => ({ ...x, custom: { ...x.custom, [k]: v } }));

  const config: GptConfig = f.preset === 'custom' ? { kind: 'gpt', ...f.custom } : PRESETS[f.preset];
  let estimate = '';
  try {
    checkFits(config, f.batch, 'wasm');
    const e = estimateTrainMemory(config, f.batch);
    estimate = `${(e.parameters / 1e6).toFixed(2)}M parameters · ${formatBytes(e.wasmBytes)} to train · ${formatBytes(e.checkpointBytes)} per checkpoint`;
  } catch (e) {
    estimate = message(e);
  }

  async function onCorpus(file: File | undefined) {
    setUpload(null);
    setError('');
    if (!file) return;
    try {
      setUpload(corpusFromFile(file.name, new Uint8Array(await file.arrayBuffer())));
    } catch (e) {
      setError(message(e));
    }
  }

  async function onInitial(file: File | undefined) {
    setInitial(file ? { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) } : null);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError('');
    setBusy(true);
    try {
      const spec = specFromForm(f, upload, newTrainJobId(), Date.now());
      await trainer.create(spec, upload?.text ?? null, initial?.bytes ?? null);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel job-form" onSubmit={(e) => void submit(e)} data-testid="train-form">
      <h2>New training job (this device)</h2>
      <label>
        Name{' '}
        <input value={f.name} maxLength={200} placeholder="optional" onChange={(e) => set('name', e.target.value)} />
      </label>
      <div className="row">
        <label>
          Model
          <select
            value={f.preset}
            data-testid="train-preset"
            onChange={(e) => set('preset', e.target.value as TrainFormValues['preset'])}
          >
            <option value="tiny">tiny — 2 layers, width 128, context 64, vocabulary 512</option>
            <option value="small">small — 6 layers, width 256, context 128, vocabulary 2048</option>
            <option value="custom">custom…</option>
          </select>
        </label>
        <label>
          Backend
          <select
            value={f.backend}
            data-testid="train-backend"
            onChange={(e) => set('backend', e.target.value as TrainFormValues['backend'])}
          >
            <option value="auto">auto (WebGPU on a hardware adapter, else WASM)</option>
            <option value="wasm">WebAssembly</option>
            <option value="webgpu">WebGPU</option>
          </select>
        </label>
        <label>
          Where
          <select
            value={f.where}
            data-testid="train-where"
            onChange={(e) => set('where', e.target.value as TrainFormValues['where'])}
          >
            <option value="here">this device</option>
            <option value="provider">one provider from the network (the corpus is sent to it)</option>
            <option value="together">volunteers together (the corpus is sent to every one of them)</option>
          </select>
        </label>
      </div>
      {f.where === 'together' ? (
        <div className="row" data-testid="train-together">
          <NumberField
            label="volunteers"
            value={f.providers}
            onChange={(v) =>
              // The kept values follow the volunteers wanted until set by hand (topKFor: the round patch stays
              // ≥ 20× under the bf16 model).
              setF((x) => ({ ...x, providers: v, topK: x.topK === topKFor(x.providers) ? topKFor(v) : x.topK }))
            }
            testId="train-providers"
          />
          <NumberField
            label="inner steps per round"
            value={f.innerSteps}
            onChange={(v) => set('innerSteps', v)}
            testId="train-inner-steps"
          />
          <NumberField
            label="outer learning rate"
            value={f.outerLr}
            onChange={(v) => set('outerLr', v)}
            testId="train-outer-lr"
          />
          <label>
            Outer rate is
            <select
              value={f.outerLrPer}
              data-testid="train-outer-lr-per"
              onChange={(e) => set('outerLrPer', e.target.value as TrainFormValues['outerLrPer'])}
            >
              <option value="contribution">per volunteer counted (the round's rate grows with them)</option>
              <option value="round">per round, however many volunteers</option>
            </select>
          </label>
          <NumberField
            label="kept values per 4096"
            value={f.topK}
            onChange={(v) => set('topK', v)}
            testId="train-top-k"
          />
          <p className="hint" role="note">
            Your corpus is sent to every volunteer who trains it: do not use text you may not share. Each round every
            volunteer trains its own shard from the current version and sends a compressed update; updates that do not
            help are refused, and the new version goes back as a round patch.
          </p>
        </div>
      ) : null}
      {f.preset === 'custom' ? (
        <div className="row">
          {(['layers', 'width', 'heads', 'context', 'vocab'] as const).map((k) => (
            <NumberField
              key={k}
              label={k}
              value={f.custom[k]}
              onChange={(v) => setCustom(k, v)}
              testId={`train-custom-${k}`}
            />
          ))}
        </div>
      ) : null}
      <p className="hint" data-testid="train-estimate">
        {estimate}
      </p>
      <fieldset>
        <legend>Corpus</legend>
        <label>
          <input type="radio" checked={f.corpus === 'brown'} onChange={() => set('corpus', 'brown')} /> Brown corpus
          (built in), texts{' '}
          <input
            type="number"
            min={1}
            max={16}
            value={f.brownFiles}
            onChange={(e) => set('brownFiles', Number(e.target.value))}
          />
        </label>
        <label>
          <input
            type="radio"
            checked={f.corpus === 'upload'}
            onChange={() => set('corpus', 'upload')}
            data-testid="train-corpus-upload"
          />{' '}
          my file (.txt, or .jsonl with a "text" field){' '}
          <input
            type="file"
            accept=".txt,.jsonl"
            data-testid="train-corpus-file"
            onChange={(e) => void onCorpus(e.target.files?.[0])}
          />
        </label>
      </fieldset>
      <div className="row">
        <NumberField label="Steps" value={f.steps} onChange={(v) => set('steps', v)} testId="train-steps" />
        <NumberField label="Batch" value={f.batch} onChange={(v) => set('batch', v)} testId="train-batch" />
        <NumberField label="Seed" value={f.seed} onChange={(v) => set('seed', v)} testId="train-seed" />
      </div>
      <div className="row">
        <NumberField
          label="Peak learning rate"
          value={f.lrPeak}
          step={1e-4}
          onChange={(v) => set('lrPeak', v)}
          testId="train-lr"
        />
        <NumberField label="Warmup steps" value={f.warmup} onChange={(v) => set('warmup', v)} testId="train-warmup" />
        <NumberField
          label="Cosine floor (× peak)"
          value={f.minRatio}
          step={0.05}
          onChange={(v) => set('minRatio', v)}
          testId="train-min-ratio"
        />
      </div>
      <div className="row">
        <NumberField
          label="Validate every"
          value={f.evalEvery}
          onChange={(v) => set('evalEvery', v)}
          testId="train-eval-every"
        />
        <NumberField
          label="Sample every"
          value={f.sampleEvery}
          onChange={(v) => set('sampleEvery', v)}
          testId="train-sample-every"
        />
        <NumberField
          label="Checkpoint every"
          value={f.checkpointEvery}
          onChange={(v) => set('checkpointEvery', v)}
          testId="train-checkpoint-every"
        />
        <NumberField
          label="Checkpoints kept"
          value={f.keepCheckpoints}
          onChange={(v) => set('keepCheckpoints', v)}
          testId="train-keep"
        />
      </div>
      <label>
        Start from a checkpoint (.safetensors, optional){' '}
        <input
          type="file"
          accept=".safetensors"
          data-testid="train-initial-file"
          onChange={(e) => void onInitial(e.target.files?.[0])}
        />
      </label>
      <div className="actions">
        <button type="submit" disabled={busy} data-testid="train-submit">
          Train
        </button>
      </div>
      {error ? (
        <div className="error" role="alert" data-testid="train-form-error">
          {error}
        </div>
      ) : null}
    </form>
  );
}
