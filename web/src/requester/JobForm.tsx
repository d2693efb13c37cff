import { useState, type FormEvent, type ReactNode } from 'react';
import { BUILTIN_MODELS } from '@shared/models';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY, DEFAULT_TOLERANCES } from '@shared/trust';
import { formatBytes } from '@shared/jobs';
import { formProblems, JOB_FORM_FIELDS, type JobFormField } from './form-fields';
import {
  ModelIoView,
  problemOf,
  ProblemView,
  readModelIo,
  readUpload,
  type ModelIo,
  type Problem,
} from './ModelIoView';
import type { JobDraft, PlanProgress } from './plan';
import type { Templar } from './templar';

type Problems = Partial<Record<JobFormField, string>>;

/** A number field checked by the app (form-fields.ts): its message sits under it and is linked for screen readers. */
function NumberField({
  name,
  defaultValue,
  testId,
  problems,
  hint,
  step,
}: {
  name: JobFormField;
  defaultValue: number;
  testId?: string;
  problems: Problems;
  hint?: ReactNode;
  step?: string;
}) {
  const problem = problems[name];
  return (
    <label>
      {JOB_FORM_FIELDS[name].label}
      {hint ? <> {hint}</> : null}{' '}
      <input
        name={name}
        type="number"
        step={step}
        defaultValue={defaultValue}
        data-testid={testId}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `field-error-${name}` : undefined}
      />
      {problem ? (
        <span className="field-error" id={`field-error-${name}`} data-testid={`field-error-${name}`}>
          {problem}
        </span>
      ) : null}
    </label>
  );
}

/** "storing inputs 45%": what Preparing… is doing now. */
function describeStage(p: PlanProgress): string {
  if (p.total === undefined || p.done === undefined) return p.stage;
  return `${p.stage} ${p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100}% of ${formatBytes(p.total)}`;
}

export function JobForm({ templar }: { templar: Templar }) {
  const [error, setError] = useState<Problem>();
  const [problems, setProblems] = useState<Problems>({});
  const [stage, setStage] = useState<string>();
  const [modelIo, setModelIo] = useState<ModelIo>();
  const [modelFileName, setModelFileName] = useState<string>();
  /** Which model the job runs: a built-in's id or "upload" — one choice, shown in words (defect 2). */
  const [modelChoice, setModelChoice] = useState<string>(BUILTIN_MODELS[0]?.id ?? 'upload');
  const uploading = modelChoice === 'upload';

  async function modelChosen(input: HTMLInputElement) {
    setModelFileName(input.files?.[0]?.name);
    if (input.files?.length) setModelChoice('upload');
    const io = await readModelIo(input);
    setModelIo(io);
    if (!io?.ok) return;
    // Refused as soon as it is chosen when it does not load; the submit check runs it too.
    const load = await templar.checkModelLoads(io.bytes).then(() => 'ok' as const, problemOf);
    setModelIo((now) => (now === io ? { ...io, load } : now));
  }

  /** A built-in chosen after a file: the file is set aside, not kept silently beside the built-in. */
  function builtinChosen(select: HTMLSelectElement) {
    setModelChoice(select.value);
    if (select.value === 'upload') return;
    const file = select.form?.elements.namedItem('modelFile');
    if (file instanceof HTMLInputElement) file.value = '';
    setModelFileName(undefined);
    setModelIo(undefined);
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    setError(undefined);
    const values = Object.fromEntries(Object.keys(JOB_FORM_FIELDS).map((name) => [name, field(name).value]));
    const inputFile = field('inputFile').files?.length ? true : false;
    const found = formProblems(values, new Set<JobFormField>(inputFile ? ['rows', 'seed'] : []));
    setProblems(found);
    const first = Object.keys(found)[0];
    if (first) return field(first).focus();
    setStage('checking the job');
    try {
      const modelUpload = uploading ? await readUpload(field('modelFile')) : undefined;
      if (uploading && !modelUpload) throw new Error('Choose an .onnx file to upload, or pick a built-in model.');
      const inputUpload = await readUpload(field('inputFile'));
      const number = (name: JobFormField) => Number(values[name]);
      const draft: JobDraft = {
        name: field('name').value,
        model: modelUpload ? { kind: 'upload', ...modelUpload } : { kind: 'builtin', id: modelChoice },
        inputs: inputUpload
          ? { kind: 'upload', ...inputUpload }
          : { kind: 'generated', rows: number('rows'), seed: number('seed') },
        unitRows: number('unitRows'),
        redundancy: number('redundancy'),
        spotCheckRate: number('spotCheck') / 100,
        maxProviders: number('maxProviders'),
        tolerance: {
          sameClass: { rtol: number('sameClassRtol'), atol: number('sameClassAtol') },
          crossClass: { rtol: number('crossClassRtol'), atol: number('crossClassAtol') },
        },
        falseAcceptProbability: number('falseAccept'),
      };
      await templar.submit(draft, (p) => setStage(describeStage(p)));
    } catch (e) {
      setError(problemOf(e));
    } finally {
      setStage(undefined);
    }
  }

  const builtin = BUILTIN_MODELS.find((m) => m.id === modelChoice);
  return (
    <form className="panel job-form" onSubmit={(e) => void submit(e)} data-testid="job-form" noValidate>
      <h2>New batch-inference job</h2>
      <label>
        Name <input name="name" placeholder="optional" maxLength={200} />
      </label>
      <label>
        Model
        <select
          name="model"
          value={modelChoice}
          data-testid="model-select"
          onChange={(e) => builtinChosen(e.currentTarget)}
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
      <p className="hint" data-testid="model-choice" aria-live="polite">
        {builtin
          ? `The job runs the built-in ${builtin.name}.`
          : modelFileName
            ? `The job runs your file ${modelFileName}.`
            : 'Choose the .onnx file the job runs.'}
      </p>
      {modelIo && uploading ? <ModelIoView io={modelIo} /> : null}
      <fieldset>
        <legend>Inputs</legend>
        <NumberField name="rows" defaultValue={1024} testId="rows" problems={problems} />
        <NumberField name="seed" defaultValue={1} testId="seed" problems={problems} />
        <label>
          …or upload inputs (.npy, or JSON {'{'}"input": [[…]]{'}'}){' '}
          <input name="inputFile" type="file" accept=".npy,.json" data-testid="input-file" />
        </label>
      </fieldset>
      <div className="row">
        <NumberField name="unitRows" hint="(rows)" defaultValue={16} testId="unit-rows" problems={problems} />
        <NumberField name="redundancy" defaultValue={1} testId="redundancy" problems={problems} />
        <NumberField name="spotCheck" defaultValue={5} testId="spot-check" problems={problems} step="any" />
        <NumberField name="maxProviders" defaultValue={8} problems={problems} />
      </div>
      <details className="verification" data-testid="verification" open={hasAdvancedProblem(problems) || undefined}>
        <summary>Verification (advanced)</summary>
        <p className="hint">
          A checked element passes when |a − b| ≤ atol·scale + rtol·max(|a|, |b|). Same class: both results from one
          kind of adapter; across classes: different backends or GPUs.
        </p>
        <div className="row">
          <NumberField
            name="sameClassRtol"
            hint="(0–1)"
            step="any"
            defaultValue={DEFAULT_TOLERANCES.sameClass.rtol}
            testId="same-class-rtol"
            problems={problems}
          />
          <NumberField
            name="sameClassAtol"
            hint="(0–1)"
            step="any"
            defaultValue={DEFAULT_TOLERANCES.sameClass.atol}
            testId="same-class-atol"
            problems={problems}
          />
          <NumberField
            name="crossClassRtol"
            hint="(0–1)"
            step="any"
            defaultValue={DEFAULT_TOLERANCES.crossClass.rtol}
            testId="cross-class-rtol"
            problems={problems}
          />
          <NumberField
            name="crossClassAtol"
            hint="(0–1)"
            step="any"
            defaultValue={DEFAULT_TOLERANCES.crossClass.atol}
            testId="cross-class-atol"
            problems={problems}
          />
        </div>
        <NumberField
          name="falseAccept"
          hint="for matrix products (above 0, at most 0.5)"
          step="any"
          defaultValue={DEFAULT_FALSE_ACCEPT_PROBABILITY}
          testId="false-accept"
          problems={problems}
        />
      </details>
      {Object.keys(problems).length ? (
        <p className="field-error" role="alert" data-testid="form-problems">
          {Object.keys(problems).length === 1 ? 'One field needs' : `${Object.keys(problems).length} fields need`} a
          change before the job can start.
        </p>
      ) : null}
      {error ? <ProblemView problem={error} testId="form-error" /> : null}
      <button type="submit" disabled={stage !== undefined} data-testid="submit-job">
        {stage !== undefined ? 'Preparing…' : 'Start job'}
      </button>
      {stage !== undefined ? (
        <p className="hint" data-testid="preparing" role="status">
          Preparing: {stage}
        </p>
      ) : null}
    </form>
  );
}

function hasAdvancedProblem(problems: Problems): boolean {
  return Object.keys(problems).some((name) => /Rtol|Atol|falseAccept/.test(name));
}
