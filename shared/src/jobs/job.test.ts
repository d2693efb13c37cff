import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { checkJobSpec, jobVerification, JobSpecSchema, unitCount, unitRange, type JobSpec } from './job';
import { DEFAULT_FALSE_ACCEPT_PROBABILITY, DEFAULT_TOLERANCES } from '../trust';
import { concatRows, sliceRows } from './rows';
import type { RawTensor } from '../protocol/peer';

const spec: JobSpec = {
  schema: 2,
  id: 'job-abcdefgh',
  name: 'test',
  createdAt: 0,
  model: { hash: 'b'.repeat(32), name: 'm', bytes: 10 },
  inputs: [{ name: 'x', dtype: 'float32', dims: [10, 4] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [10, 2] }],
  rows: 10,
  unitRows: 3,
  redundancy: 1,
  spotCheckRate: 0.1,
  maxProviders: 4,
};

describe('job splitting', () => {
  it('JOB10: rows split into ceil(rows/unitRows) units covering every row once', () => {
    expect(unitCount(spec)).toBe(4);
    const covered = Array.from({ length: 4 }, (_, i) => unitRange(spec, i));
    expect(covered).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 9 },
      { start: 9, end: 10 },
    ]);
    expect(() => unitRange(spec, 4)).toThrow(/outside/);
  });

  it('JOB11: slicing then concatenating the units gives back the tensor byte for byte', () => {
    const data = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
    const t: RawTensor = { name: 'x', dtype: 'float32', dims: [10, 4], bytes: new Uint8Array(data.buffer) };
    const parts = Array.from({ length: 4 }, (_, i) => {
      const r = unitRange(spec, i);
      return sliceRows(t, r.start, r.end);
    });
    expect(concatRows(parts)).toEqual(t);
  });

  it('JOB12: a unit output of the wrong shape is refused at assembly', () => {
    const a: RawTensor = { name: 'y', dtype: 'float32', dims: [1, 2], bytes: new Uint8Array(8) };
    const b: RawTensor = { name: 'y', dtype: 'float32', dims: [1, 3], bytes: new Uint8Array(12) };
    expect(() => concatRows([a, b])).toThrow(/expected/);
  });

  it('JOB13: specs are validated, with cross-field rules explained', () => {
    expect(v.safeParse(JobSpecSchema, spec).success).toBe(true);
    expect(v.safeParse(JobSpecSchema, { ...spec, redundancy: 9 }).success).toBe(false);
    expect(() => checkJobSpec({ ...spec, redundancy: 5, maxProviders: 2 })).toThrow(/redundancy/);
    expect(() => checkJobSpec({ ...spec, inputs: [{ name: 'x', dtype: 'float32', dims: [9, 4] }] })).toThrow(
      /batch dimension/,
    );
    expect(() =>
      checkJobSpec({
        ...spec,
        rows: 1_000_000,
        unitRows: 1,
        inputs: [{ name: 'x', dtype: 'float32', dims: [1_000_000, 4] }],
      }),
    ).toThrow(/unit size/);
  });

  it('TRUST-J2: a spec may carry its tolerance table and false-accept probability; specs stored without them load and mean the defaults', () => {
    const stored = v.parse(JobSpecSchema, structuredClone(spec));
    expect(stored.tolerance).toBeUndefined();
    expect(jobVerification(stored)).toEqual({
      tolerance: DEFAULT_TOLERANCES,
      falseAcceptProbability: DEFAULT_FALSE_ACCEPT_PROBABILITY,
    });

    const tolerance = {
      sameClass: { rtol: 1e-3, atol: 0 },
      crossClass: { rtol: 1e-2, atol: 1e-4 },
      halfPrecision: { rtol: 0.05, atol: 0.01 },
    };
    const own = v.parse(JobSpecSchema, { ...spec, tolerance, falseAcceptProbability: 0.25 });
    expect(jobVerification(own)).toEqual({ tolerance, falseAcceptProbability: 0.25 });
  });

  it('TRUST-J2: out-of-range tolerances and false-accept probabilities are refused by the schema', () => {
    const table = structuredClone(DEFAULT_TOLERANCES);
    const withTolerance = (relation: keyof typeof table, bound: 'rtol' | 'atol', value: number) => ({
      ...spec,
      tolerance: { ...table, [relation]: { ...table[relation], [bound]: value } },
    });
    expect(v.safeParse(JobSpecSchema, { ...spec, tolerance: table }).success).toBe(true);
    for (const bad of [-1e-9, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(v.safeParse(JobSpecSchema, withTolerance('sameClass', 'rtol', bad)).success, `sameClass.rtol ${bad}`).toBe(
        false,
      );
      expect(
        v.safeParse(JobSpecSchema, withTolerance('crossClass', 'atol', bad)).success,
        `crossClass.atol ${bad}`,
      ).toBe(false);
      expect(
        v.safeParse(JobSpecSchema, withTolerance('halfPrecision', 'rtol', bad)).success,
        `halfPrecision.rtol ${bad}`,
      ).toBe(false);
    }
    expect(v.safeParse(JobSpecSchema, { ...spec, tolerance: { sameClass: table.sameClass } }).success).toBe(false); // a partial table
    for (const ok of [1e-12, 0.5])
      expect(v.safeParse(JobSpecSchema, { ...spec, falseAcceptProbability: ok }).success, String(ok)).toBe(true);
    for (const bad of [0, -0.1, 0.51, Number.NaN])
      expect(v.safeParse(JobSpecSchema, { ...spec, falseAcceptProbability: bad }).success, String(bad)).toBe(false);
  });
});
