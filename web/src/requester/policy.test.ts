import { describe, expect, it } from 'vitest';
import { describePolicy } from './policy';

const model = { hash: '0'.repeat(64), name: 'm', bytes: 1 };

describe('describePolicy', () => {
  it('names the quorum for redundant jobs, the check for the rest, and the tolerance', () => {
    const quorum = describePolicy({ redundancy: 3, spotCheckRate: 0.05, model });
    expect(quorum.find((l) => l.label === 'redundancy')!.value).toMatch(/3 replicas, 2 must agree/);
    expect(quorum.find((l) => l.label === 'checks')!.value).toMatch(/quorum/);
    expect(quorum.find((l) => l.label === 'tolerance')!.value).toMatch(/rtol 0.000001.*rtol 0.0001/);
    expect(describePolicy({ redundancy: 1, spotCheckRate: 0.05, model }).find((l) => l.label === 'checks')!.value).toMatch(/re-run.*5%/);
    expect(describePolicy({ redundancy: 1, spotCheckRate: 0.03, model: { ...model, builtinId: 'matmul-256' } }).find((l) => l.label === 'checks')!.value).toMatch(/Freivalds/);
    expect(describePolicy({ redundancy: 1, spotCheckRate: 0, model }).find((l) => l.label === 'checks')!.value).toMatch(/off/);
  });
});
