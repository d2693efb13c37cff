import { useState, type FormEvent } from 'react';
import { BUILTIN_MODELS } from '@shared/models';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY, DEFAULT_TOLERANCES } from '@shared/trust';
import { describeRoles, readBatchRoles } from '@shared/jobs';
import { inspectOnnxModel } from '@shared/tensor';
import { PlanError, type JobDraft } from './plan';
import type { Templar } from './templar';

const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

async function readUpload(input: HTMLInputElement): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
  const file = input.files?.[0];
  if (!file) return undefined;
  if (file.size > MAX_UPLOAD_BYTES)
    throw new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MiB; the limit is 256 MiB`);
  return { fileName: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
}

/** An emptied number field reads as NaN, not 0, so the plan refuses it instead of tightening a tolerance to nothing. */
function numberIn(input: HTMLInputElement): number {
  return input.value.trim() === '' ? Number.NaN : Number(input.value);
}

interface Problem {
  message: string;
  details?: string;
}

type ModelIo =
  | { ok: true; lines: ReturnType<typeof describeRoles>; bytes: Uint8Array; load: 'checking' | 'ok' | Problem }
  | { ok: false; error: string };

const problemOf = (e: unknown): Problem => ({
  message: e instanceof Error ? e.message : String(e),
  ...(e instanceof PlanError && e.details ? { details: e.details } : {}),
});

/** What the chosen .onnx takes and returns, read from the file alone (nothing runs yet). */
async function readModelIo(input: HTMLInputElement): Promise<ModelIo | undefined> {
  try {
    const upload = await readUpload(input);
    if (!upload) return undefined;
    const lines = describeRoles(readBatchRoles(inspectOnnxModel(upload.bytes)));
    return { ok: true, lines, bytes: upload.bytes, load: 'checking' };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function ProblemView({ problem, testId }: { problem: Problem; testId: string }) {
  return (
    <div className="error" role="alert" data-testid={testId}>
      {problem.message}
      {problem.details ? (
        <details className="explained">
          <summary>details</summary>
          <pre className="raw" data-testid={`${testId}-details`}>
            {problem.details}
          </pre>
        </details>
      ) : null}
    </div>
  );
}

function ModelIoView({ io }: { io: ModelIo }) {
  if (!io.ok)
    return (
      <div className="error" role="alert" data-testid="model-io-error">
        {io.error}
      </div>
    );
  return (
    <div className="model-io" data-testid="model-io">
      <p data-testid="model-io-batch">{io.lines.batch}</p>
      <p>Takes:</p>
      <ul>
        {io.lines.inputs.map((line) => (
          <li key={line} data-testid="model-io-input">
            {line}
          </li>
        ))}
      </ul>
      <p>Returns:</p>
      <ul>
        {io.lines.outputs.map((line) => (
          <li key={line} data-testid="model-io-output">
            {line}
          </li>
        ))}
      </ul>
      {io.load === 'checking' ? (
        <p className="hint" data-testid="model-io-loading">
          Loading it in onnxruntime-web…
        </p>
      ) : io.load === 'ok' ? (
        <p className="hint" data-testid="model-io-loads">
          It loads in onnxruntime-web. Before the job opens, this browser also runs the first unit on your inputs.
        </p>
      ) : (
        <ProblemView problem={io.load} testId="model-io-load-error" />
      )}
    </div>
  );
}

export function JobForm({ templar }: { templar: Templar }) {
  const [error, setError] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const [modelIo, setModelIo] = useState<ModelIo>();
  /** Whether "Upload my own .onnx" is chosen: what the file takes and returns shows only then. */
  const [uploading, setUploading] = useState(false);

  async function modelChosen(input: HTMLInputElement) {
    const select = input.form?.elements.namedItem('model');
    if (input.files?.length && select instanceof HTMLSelectElement) {
      select.value = 'upload';
      setUploading(true);
    }
    const io = await readModelIo(input);
    setModelIo(io);
    if (!io?.ok) return;
    // Refused as soon as it is chosen when it does not load; the submit check runs it too.
    const load = await templar.checkModelLoads(io.bytes).then(() => 'ok' as const, problemOf);
    setModelIo((now) => (now === io ? { ...io, load } : now));
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    setError(undefined);
    setBusy(true);
    try {
      const modelChoice = field('model').value;
      const modelUpload = modelChoice === 'upload' ? await readUpload(field('modelFile')) : undefined;
      if (modelChoice === 'upload' && !modelUpload)
        throw new Error('choose an .onnx file to upload, or pick a built-in model');
      const inputUpload = await readUpload(field('inputFile'));
      const draft: JobDraft = {
        name: field('name').value,
        model: modelUpload ? { kind: 'upload', ...modelUpload } : { kind: 'builtin', id: modelChoice },
        inputs: inputUpload
          ? { kind: 'upload', ...inputUpload }
          : { kind: 'generated', rows: Number(field('rows').value), seed: Number(field('seed').value) },
        unitRows: Number(field('unitRows').value),
        redundancy: Number(field('redundancy').value),
        spotCheckRate: Number(field('spotCheck').value) / 100,
        maxProviders: Number(field('maxProviders').value),
        tolerance: {
          sameClass: { rtol: numberIn(field('sameClassRtol')), atol: numberIn(field('sameClassAtol')) },
          crossClass: { rtol: numberIn(field('crossClassRtol')), atol: numberIn(field('crossClassAtol')) },
        },
        falseAcceptProbability: numberIn(field('falseAccept')),
      };
      await templar.submit(draft);
    } catch (e) {
      setError(problemOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel job-form" onSubmit={(e) => void submit(e)} data-testid="job-form">
      <h2>New batch-inference job</h2>
      <label>
        Name <input name="name" placeholder="optional" maxLength={200} />
      </label>
      <label>
        Model
        <select
          name="model"
          defaultValue={BUILTIN_MODELS[0]?.id}
          data-testid="model-select"
          onChange={(e) => setUploading(e.currentTarget.value === 'upload')}
        >
          {BUILTIN_MODELS.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name} — {m.description}
            </option>
          ))}
          <option value="upload">Upload my own .onnx…</option>
        </select>
      </label>
      <label>
        Model file (.onnx){' '}
        <input
          name="modelFile"
          type="file"
          accept=".onnx"
          data-testid="model-file"
          onChange={(e) => void modelChosen(e.currentTarget)}
        />
      </label>
      {modelIo && uploading ? <ModelIoView io={modelIo} /> : null}
      <fieldset>
        <legend>Inputs</legend>
        <label>
          Rows to generate <input name="rows" type="number" min={1} defaultValue={1024} data-testid="rows" />
        </label>
        <label>
          Seed <input name="seed" type="number" defaultValue={1} data-testid="seed" />
        </label>
        <label>
          …or upload inputs (.npy, or JSON {'{'}"input": [[…]]{'}'}){' '}
          <input name="inputFile" type="file" accept=".npy,.json" data-testid="input-file" />
        </label>
      </fieldset>
      <div className="row">
        <label>
          Unit size (rows) <input name="unitRows" type="number" min={1} defaultValue={16} data-testid="unit-rows" />
        </label>
        <label>
          Redundancy <input name="redundancy" type="number" min={1} max={5} defaultValue={1} data-testid="redundancy" />
        </label>
        <label>
          Spot-check %{' '}
          <input name="spotCheck" type="number" min={0} max={100} defaultValue={5} data-testid="spot-check" />
        </label>
        <label>
          Max providers <input name="maxProviders" type="number" min={1} max={64} defaultValue={8} />
        </label>
      </div>
      {/* No min/max here: the plan refuses out-of-range values with a message that says the range. */}
      <details className="verification" data-testid="verification">
        <summary>Verification (advanced)</summary>
        <p className="hint">
          A checked element passes when |a − b| ≤ atol·scale + rtol·max(|a|, |b|). Same class: both results from one
          kind of adapter; across classes: different backends or GPUs.
        </p>
        <div className="row">
          <label>
            Same-class rtol (0–1){' '}
            <input
              name="sameClassRtol"
              type="number"
              step="any"
              defaultValue={DEFAULT_TOLERANCES.sameClass.rtol}
              data-testid="same-class-rtol"
            />
          </label>
          <label>
            Same-class atol (0–1){' '}
            <input
              name="sameClassAtol"
              type="number"
              step="any"
              defaultValue={DEFAULT_TOLERANCES.sameClass.atol}
              data-testid="same-class-atol"
            />
          </label>
          <label>
            Cross-class rtol (0–1){' '}
            <input
              name="crossClassRtol"
              type="number"
              step="any"
              defaultValue={DEFAULT_TOLERANCES.crossClass.rtol}
              data-testid="cross-class-rtol"
            />
          </label>
          <label>
            Cross-class atol (0–1){' '}
            <input
              name="crossClassAtol"
              type="number"
              step="any"
              defaultValue={DEFAULT_TOLERANCES.crossClass.atol}
              data-testid="cross-class-atol"
            />
          </label>
        </div>
        <label>
          Freivalds false-accept probability, matrix products (above 0, at most 0.5)
          <input
            name="falseAccept"
            type="number"
            step="any"
            defaultValue={DEFAULT_FALSE_ACCEPT_PROBABILITY}
            data-testid="false-accept"
          />
        </label>
      </details>
      {error ? <ProblemView problem={error} testId="form-error" /> : null}
      <button type="submit" disabled={busy} data-testid="submit-job">
        {busy ? 'Preparing…' : 'Start job'}
      </button>
    </form>
  );
}
