/**
 * What the chosen .onnx takes and returns, read from the file alone, and how
 * a problem with it (or with the form) is shown: the message in plain words,
 * onnxruntime's own words under "details".
 */
import { describeRoles, readBatchRoles } from '@shared/jobs';
import { inspectOnnxModel } from '@shared/tensor';
import { PlanError } from './plan';

const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

export async function readUpload(
  input: HTMLInputElement,
): Promise<{ fileName: string; bytes: Uint8Array } | undefined> {
  const file = input.files?.[0];
  if (!file) return undefined;
  if (file.size > MAX_UPLOAD_BYTES)
    throw new Error(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MiB; the limit is 256 MiB`);
  return { fileName: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
}

export interface Problem {
  message: string;
  details?: string;
}

export type ModelIo =
  | { ok: true; lines: ReturnType<typeof describeRoles>; bytes: Uint8Array; load: 'checking' | 'ok' | Problem }
  | { ok: false; error: string };

export const problemOf = (e: unknown): Problem => ({
  message: e instanceof Error ? e.message : String(e),
  ...(e instanceof PlanError && e.details ? { details: e.details } : {}),
});

/** What the chosen .onnx takes and returns, read from the file alone (nothing runs yet). */
export async function readModelIo(input: HTMLInputElement): Promise<ModelIo | undefined> {
  try {
    const upload = await readUpload(input);
    if (!upload) return undefined;
    const lines = describeRoles(readBatchRoles(inspectOnnxModel(upload.bytes)));
    return { ok: true, lines, bytes: upload.bytes, load: 'checking' };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

export function ProblemView({ problem, testId }: { problem: Problem; testId: string }) {
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

export function ModelIoView({ io }: { io: ModelIo }) {
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
