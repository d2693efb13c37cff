/** The RL job form: the task, the policy's size, GRPO's settings and the warm-up. */
import { JSONL_MAX_BYTES, parseExamplesJsonl, type RlTask } from '@shared/jobs/rl';
import { type FormEvent, useState } from 'react';
import type { NewRlJob, RlJobs } from './rl-jobs';
import { NumberField } from '../app/widgets';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Built-in tasks by the form's value. */
const TASKS: Record<string, { label: string; task: RlTask }> = {
  'addition-3': { label: '3-digit + 3-digit addition', task: { kind: 'addition', digits: 3 } },
  'addition-2': { label: '2-digit + 2-digit addition', task: { kind: 'addition', digits: 2 } },
  'addition-1': { label: '1-digit + 1-digit addition', task: { kind: 'addition', digits: 1 } },
  'sort-5': { label: 'sort 5 digits', task: { kind: 'sort', length: 5 } },
  'reverse-6': { label: 'reverse a word of 1–6 letters', task: { kind: 'reverse', minLength: 1, maxLength: 6 } },
  word: { label: 'one-step word problems', task: { kind: 'word' } },
};

/**
 * Defaults from bench:rl (3-digit addition): GRPO sharpens what the warmed-up policy already samples, so the
 * warm-up stops near the top of 20–50% (0.4, within WARMUP_OVERSHOOT above it); a lower start plateaus lower.
 * 32 prompts × 8 completions a volunteer: with 8 prompts the tiny shape gained +0.065 to +0.375 over three
 * seeds, with 32 +0.185 to +0.445 in 100 steps at 3e-4.
 */
export const DEFAULT_RL_FORM: NewRlJob = {
  name: '',
  task: TASKS['addition-3']!.task,
  preset: 'tiny',
  seed: 1,
  steps: 100,
  lr: 3e-4,
  providers: 2,
  promptsPerProvider: 32,
  samples: 8,
  temperature: 1,
  evalSize: 64,
  warmupSteps: 2000,
  warmupLr: 3e-3,
  warmupTarget: 0.4,
};

export function RlForm({ jobs }: { jobs: RlJobs }) {
  const [f, setF] = useState<NewRlJob>(DEFAULT_RL_FORM);
  const [taskKey, setTaskKey] = useState('addition-3');
  const [jsonl, setJsonl] = useState<{ name: string; text: string } | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof NewRlJob>(k: K, v: NewRlJob[K]) => setF((x) => ({ ...x, [k]: v }));

  const chooseTask = (key: string) => {
    setTaskKey(key);
    const t = TASKS[key];
    if (t) set('task', t.task);
  };

  const upload = async (file: File | undefined) => {
    setError('');
    if (!file) return;
    if (file.size > JSONL_MAX_BYTES) {
      setError(
        `${file.name} is ${file.size.toLocaleString()} bytes; examples files are limited to ${JSONL_MAX_BYTES.toLocaleString()}`,
      );
      return;
    }
    const text = await file.text();
    try {
      const lines = parseExamplesJsonl(text).length;
      setJsonl({ name: file.name, text });
      set('task', { kind: 'jsonl', name: file.name.slice(0, 200), lines });
    } catch (e) {
      setError(`${file.name}: ${message(e)}. Each line must be {"prompt": "…", "answer": "…"}.`);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    if (taskKey === 'jsonl' && !jsonl) return setError('Choose a JSONL file of {"prompt", "answer"} lines first.');
    setBusy(true);
    try {
      await jobs.create(f, taskKey === 'jsonl' ? jsonl!.text : undefined);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="job-form" onSubmit={(e) => void submit(e)} data-testid="rl-form">
      <label>
        Name{' '}
        <input value={f.name} maxLength={120} onChange={(e) => set('name', e.target.value)} data-testid="rl-name" />
      </label>
      <label>
        Task{' '}
        <select value={taskKey} onChange={(e) => chooseTask(e.target.value)} data-testid="rl-task">
          {Object.entries(TASKS).map(([k, t]) => (
            <option key={k} value={k}>
              {t.label}
            </option>
          ))}
          <option value="jsonl">my own examples (JSONL)</option>
        </select>
      </label>
      {taskKey === 'jsonl' ? (
        <label>
          Examples{' '}
          <input
            type="file"
            accept=".jsonl,.txt"
            onChange={(e) => void upload(e.target.files?.[0])}
            data-testid="rl-jsonl"
          />
          {jsonl ? <span className="muted"> {jsonl.name}</span> : null}
        </label>
      ) : null}
      <label>
        Policy{' '}
        <select
          value={f.preset}
          onChange={(e) => set('preset', e.target.value as 'tiny' | 'small')}
          data-testid="rl-preset"
        >
          <option value="tiny">tiny (2 layers, width 128)</option>
          <option value="small">small (6 layers, width 256)</option>
        </select>
      </label>
      <NumberField
        label="Steps"
        value={f.steps}
        onChange={(v) => set('steps', v)}
        testId="rl-steps"
        hint="GRPO updates; one round of rollouts each"
      />
      <NumberField label="Learning rate" value={f.lr} step="any" onChange={(v) => set('lr', v)} testId="rl-lr" />
      <NumberField label="Volunteers" value={f.providers} onChange={(v) => set('providers', v)} testId="rl-providers" />
      <NumberField
        label="Prompts per volunteer"
        value={f.promptsPerProvider}
        onChange={(v) => set('promptsPerProvider', v)}
        testId="rl-prompts"
      />
      <NumberField
        label="Completions per prompt"
        value={f.samples}
        onChange={(v) => set('samples', v)}
        testId="rl-samples"
        hint="GRPO's group: advantages are relative to the other completions of the same prompt. Volunteers sample at temperature 1, which GRPO's importance ratio assumes."
      />
      <NumberField
        label="Held-out prompts"
        value={f.evalSize}
        onChange={(v) => set('evalSize', v)}
        testId="rl-eval-size"
      />
      <NumberField
        label="Warm-up steps (at most)"
        value={f.warmupSteps}
        onChange={(v) => set('warmupSteps', v)}
        testId="rl-warmup-steps"
        hint="Supervised training on the task format in this tab before RL starts"
      />
      <NumberField
        label="Warm-up learning rate"
        value={f.warmupLr}
        step="any"
        onChange={(v) => set('warmupLr', v)}
        testId="rl-warmup-lr"
      />
      <NumberField
        label="Warm-up stops at accuracy"
        value={f.warmupTarget}
        step="any"
        onChange={(v) => set('warmupTarget', v)}
        testId="rl-warmup-target"
      />
      <NumberField label="Seed" value={f.seed} onChange={(v) => set('seed', v)} testId="rl-seed" />
      <p className="hint">
        Volunteers receive the policy and the training prompts (never the answers or the held-out set): do not use
        private data. Rewards are computed here, from the task.
      </p>
      {error ? (
        <div className="error" role="alert" data-testid="rl-form-error">
          {error}
        </div>
      ) : null}
      <button type="submit" disabled={busy} data-testid="rl-submit">
        Start RL job
      </button>
    </form>
  );
}
