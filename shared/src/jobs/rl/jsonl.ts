/**
 * Bring-your-own tasks: JSONL lines {"prompt": "...", "answer": "..."} with an
 * exact-match reward. Untrusted input: sizes are checked before parsing, each
 * line is validated with valibot, and every error names its line.
 */
import * as v from 'valibot';
import { JSONL_MAX_BYTES, JSONL_MAX_FIELD_CHARS, JSONL_MAX_LINES } from './constants';
import { RlError } from './errors';
import { hash32 } from './hash';
import type { Example } from './tasks';
import { foreignChar } from './vocab';

const Field = v.pipe(v.string(), v.minLength(1), v.maxLength(JSONL_MAX_FIELD_CHARS));
export const ExampleLineSchema = v.strictObject({ prompt: Field, answer: Field });

export interface CustomTask {
  readonly train: readonly Example[];
  readonly eval: readonly Example[];
}

function lineError(n: number, message: string): RlError {
  return new RlError('jsonl', `line ${n}: ${message}`);
}

/** Parses and validates every line (blank lines skipped); a prompt that repeats must repeat its answer. */
export function parseExamplesJsonl(text: string): Example[] {
  if (text.length > JSONL_MAX_BYTES) throw new RlError('jsonl', `more than ${JSONL_MAX_BYTES} characters`);
  const lines = text.split('\n');
  if (lines.length > JSONL_MAX_LINES + 1) throw new RlError('jsonl', `more than ${JSONL_MAX_LINES} lines`);
  const out: Example[] = [];
  const answers = new Map<string, string>();
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw lineError(n, 'not valid JSON');
    }
    const r = v.safeParse(ExampleLineSchema, value);
    if (!r.success) {
      const issue = r.issues[0]!;
      const key = v.getDotPath(issue);
      throw lineError(n, `${key === null ? '' : `${key}: `}${issue.message}`);
    }
    const { prompt, answer } = r.output;
    for (const [name, s] of [
      ['prompt', prompt],
      ['answer', answer],
    ] as const) {
      const ch = foreignChar(s);
      if (ch !== null) throw lineError(n, `${name} holds ${JSON.stringify(ch)}, outside the policy's alphabet`);
    }
    const before = answers.get(prompt);
    if (before !== undefined && before !== answer) throw lineError(n, 'the same prompt appears with another answer');
    if (before === undefined) out.push({ prompt, answer });
    answers.set(prompt, answer);
  });
  if (out.length === 0) throw new RlError('jsonl', 'no examples');
  return out;
}

/**
 * A deterministic held-out split by prompt hash: a prompt lands in eval iff its hash says so, so eval and
 * training never share a prompt and adding lines never moves an existing one.
 */
export function splitExamples(examples: readonly Example[], evalFraction: number, seed: number): CustomTask {
  if (!(evalFraction > 0 && evalFraction < 1)) throw new RlError('jsonl', 'evalFraction must be within (0, 1)');
  const train: Example[] = [];
  const evalSet: Example[] = [];
  for (const e of examples) (hash32([seed, e.prompt]) / 2 ** 32 < evalFraction ? evalSet : train).push(e);
  if (train.length === 0 || evalSet.length === 0)
    throw new RlError('jsonl', `too few examples (${examples.length}) for both a training and a held-out set`);
  return { train, eval: evalSet };
}
