import { describe, expect, it } from 'vitest';
import { describePolicy } from './policy';

const model = { hash: '0'.repeat(64), name: 'm', bytes: 1 };

describe('describePolicy', () => {
  it('names the quorum for redundant jobs, the check for the rest, and the tolerance', () => {
    const quorum = describePolicy({ redundancy: 3, spotCheckRate: 0.05, model });
    expect(quorum.find((l) => l.label === 'redundancy')!.value).toMatch(/3 replicas, 2 must agree/);
    expect(quorum.find((l) => l.label === 'checks')!.value).toMatch(/quorum/);
    expect(quorum.find((l) => l.label === 'tolerance')!.value).toMatch(/rtol 0.000001.*rtol 0.0001/);
    expect(
      describePolicy({ redundancy: 1, spotCheckRate: 0.05, model }).find((l) => l.label === 'checks')!.value,
    ).toMatch(/re-run.*5%/);
    expect(
      describePolicy({ redundancy: 1, spotCheckRate: 0.03, model: { ...model, builtinId: 'matmul-256' } }).find(
        (l) => l.label === 'checks',
      )!.value,
    ).toMatch(/Freivalds/);
    expect(describePolicy({ redundancy: 1, spotCheckRate: 0, model }).find((l) => l.label === 'checks')!.value).toMatch(
      /off/,
    );
  });

  it("shows the job's own tolerances and Freivalds false-accept probability, not the defaults", () => {
    const tolerance = {
      sameClass: { rtol: 0.003, atol: 0.0002 },
      crossClass: { rtol: 0.02, atol: 0.001 },
      halfPrecision: { rtol: 0.05, atol: 0.01 },
    };
    const lines = describePolicy({
      redundancy: 1,
      spotCheckRate: 0.03,
      model: { ...model, builtinId: 'matmul-256' },
      tolerance,
      falseAcceptProbability: 0.001,
    });
    expect(lines.find((l) => l.label === 'tolerance')!.value).toBe(
      'same adapter class rtol 0.003 atol 0.0002, across classes rtol 0.02 atol 0.001',
    );
    expect(lines.find((l) => l.label === 'checks')!.value).toMatch(/Freivalds \(false accept ≤ 0\.001\)/);
    // A job stored before these were settable shows the defaults it runs under.
    expect(
      describePolicy({ redundancy: 1, spotCheckRate: 0.03, model: { ...model, builtinId: 'matmul-256' } }).find(
        (l) => l.label === 'checks',
      )!.value,
    ).toMatch(/false accept ≤ 0\.000001\)/);
  });
});
