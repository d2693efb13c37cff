/**
 * The job form's number fields and their rules, checked in the app so every
 * field says what is wrong in the same words (the browser's own tooltips said
 * nothing in-app for rows 0, unit size 0 or redundancy 9; issue 21).
 */
import { MAX_REDUNDANCY } from '@shared/jobs';

export interface FieldRule {
  label: string;
  min: number;
  max: number;
  /** A whole number only. */
  integer: boolean;
  /** The minimum itself is not allowed (a probability above 0). */
  aboveMin?: boolean;
}

export const JOB_FORM_FIELDS = {
  rows: { label: 'Rows to generate', min: 1, max: 2 ** 31, integer: true },
  seed: { label: 'Seed', min: 0, max: 2 ** 32 - 1, integer: true },
  unitRows: { label: 'Unit size', min: 1, max: 2 ** 31, integer: true },
  redundancy: { label: 'Redundancy', min: 1, max: MAX_REDUNDANCY, integer: true },
  spotCheck: { label: 'Spot-check %', min: 0, max: 100, integer: false },
  maxProviders: { label: 'Max providers', min: 1, max: 64, integer: true },
  sameClassRtol: { label: 'Same-class rtol', min: 0, max: 1, integer: false },
  sameClassAtol: { label: 'Same-class atol', min: 0, max: 1, integer: false },
  crossClassRtol: { label: 'Cross-class rtol', min: 0, max: 1, integer: false },
  crossClassAtol: { label: 'Cross-class atol', min: 0, max: 1, integer: false },
  falseAccept: { label: 'Freivalds false-accept probability', min: 0, max: 0.5, integer: false, aboveMin: true },
} as const satisfies Record<string, FieldRule>;

export type JobFormField = keyof typeof JOB_FORM_FIELDS;

const range = (rule: FieldRule) =>
  `${rule.integer ? 'a whole number' : 'a number'} ${rule.aboveMin ? 'above' : 'from'} ${rule.min.toLocaleString('en')} ${
    rule.aboveMin ? 'and at most' : 'to'
  } ${rule.max.toLocaleString('en')}`;

/** What is wrong with `raw` for `rule`, in one sentence; undefined when it is fine. */
export function fieldProblem(rule: FieldRule, raw: string): string | undefined {
  const text = raw.trim();
  const value = Number(text);
  const ok =
    text !== '' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.aboveMin ? value > rule.min : value >= rule.min) &&
    value <= rule.max;
  if (ok) return undefined;
  return `${rule.label} must be ${range(rule)}; it is ${text === '' ? 'empty' : `"${text.slice(0, 40)}"`}.`;
}

/** Every field's problem, by field name; fields in `skip` (rows, when inputs are uploaded) are not checked. */
export function formProblems(
  values: Partial<Record<JobFormField, string>>,
  skip: ReadonlySet<JobFormField> = new Set(),
): Partial<Record<JobFormField, string>> {
  const problems: Partial<Record<JobFormField, string>> = {};
  for (const [name, rule] of Object.entries(JOB_FORM_FIELDS) as [JobFormField, FieldRule][]) {
    if (skip.has(name) || values[name] === undefined) continue;
    const problem = fieldProblem(rule, values[name]);
    if (problem) problems[name] = problem;
  }
  return problems;
}
