/**
 * An error in plain words with its next step, the raw message kept under
 * "details" (hover shows it too): for provider notes, rejection reasons, a
 * failed job and a refused form.
 */
import { explainModelError } from '@shared/jobs';

export function ExplainedError({ text, testId, prefix }: { text: string; testId?: string; prefix?: string }) {
  const e = explainModelError(text);
  // A short note in plain words already ("job complete") needs no details to open.
  if (!e.known && e.summary === text && !prefix)
    return (
      <span title={text} data-testid={testId}>
        {text}
      </span>
    );
  return (
    <details className="explained" data-testid={testId}>
      <summary title={text}>
        {prefix}
        {e.summary}
        {e.known ? ` — next step: ${e.next}` : ''}
      </summary>
      <pre className="raw" data-testid={testId ? `${testId}-details` : undefined}>
        {text}
      </pre>
    </details>
  );
}
