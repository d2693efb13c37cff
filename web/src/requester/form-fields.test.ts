import { describe, expect, it } from 'vitest';
import { fieldProblem, formProblems, JOB_FORM_FIELDS } from './form-fields';

describe('job form fields, checked in the app (issue 21)', () => {
  it('FORM1: rows 0, unit size 0, redundancy 9 and blank rows each get a message in the same words', () => {
    const problems = formProblems({ rows: '0', unitRows: '0', redundancy: '9', seed: '1', spotCheck: '5' });
    expect(problems).toEqual({
      rows: 'Rows to generate must be a whole number from 1 to 2,147,483,648; it is "0".',
      unitRows: 'Unit size must be a whole number from 1 to 2,147,483,648; it is "0".',
      redundancy: 'Redundancy must be a whole number from 1 to 5; it is "9".',
    });
    expect(formProblems({ rows: '  ' }).rows).toBe(
      'Rows to generate must be a whole number from 1 to 2,147,483,648; it is empty.',
    );
  });

  it('FORM2: every field follows the same pattern: label, range, what it is', () => {
    for (const rule of Object.values(JOB_FORM_FIELDS))
      expect(fieldProblem(rule, 'abc')).toMatch(
        new RegExp(`^${rule.label} must be a (whole )?number .+; it is "abc"\\.$`),
      );
  });

  it('FORM3: values inside the range pass; fractions fail whole-number fields; the false-accept bound excludes 0', () => {
    expect(
      formProblems({ rows: '1024', unitRows: '16', redundancy: '5', spotCheck: '2.5', falseAccept: '0.5' }),
    ).toEqual({});
    expect(formProblems({ unitRows: '1.5' }).unitRows).toMatch(/whole number/);
    expect(formProblems({ falseAccept: '0' }).falseAccept).toBe(
      'Freivalds false-accept probability must be a number above 0 and at most 0.5; it is "0".',
    );
    expect(formProblems({ spotCheck: '101' }).spotCheck).toMatch(/from 0 to 100/);
  });

  it('FORM4: a skipped field (rows, when inputs are uploaded) is not checked', () => {
    expect(formProblems({ rows: '' }, new Set(['rows']))).toEqual({});
  });
});
