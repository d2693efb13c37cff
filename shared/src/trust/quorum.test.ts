import { describe, expect, it } from 'vitest';
import { QuorumStateError } from './errors';
import { UnitQuorum, type ReplicaResult } from './quorum';

// Results are numbers; two agree when they are within 0.01.
const agree = (a: ReplicaResult<number>, b: ReplicaResult<number>) => Math.abs(a.result - b.result) <= 0.01;
const r = (peerId: string, result: number, trusted = false): ReplicaResult<number> => ({
  peerId,
  adapterClass: 'x',
  result,
  trusted,
});

function quorum(initialReplicas: number, q: number, maxReplicas = 5, trustedCheck = false) {
  return new UnitQuorum<number>({ initialReplicas, quorum: q, maxReplicas, trustedCheck }, agree);
}

describe('quorum state machine', () => {
  it('TRUST-Q1: two agreeing replicas are accepted; the canonical result is the agreeing majority', () => {
    const u = quorum(2, 2);
    expect(u.start()).toEqual({ kind: 'dispatch', count: 2, avoid: [] });
    u.dispatched('a');
    u.dispatched('b');
    expect(u.resultArrived(r('a', 1))).toEqual({ kind: 'wait' });
    expect(u.resultArrived(r('b', 1.001))).toMatchObject({
      kind: 'accept',
      agreeing: ['a', 'b'],
      rejected: [],
      checked: true,
    });
    expect(u.status).toBe('accepted');
  });

  it('TRUST-Q1: a single replica under quorum 1 is accepted unchecked', () => {
    const u = quorum(1, 1);
    u.start();
    u.dispatched('a');
    expect(u.resultArrived(r('a', 5))).toMatchObject({ kind: 'accept', agreeing: ['a'], checked: false });
  });

  it('TRUST-Q2: disagreement asks for one more replica, avoiding providers already used, and the majority wins', () => {
    const u = quorum(2, 2);
    u.start();
    u.dispatched('a');
    u.dispatched('b');
    u.resultArrived(r('a', 1));
    expect(u.resultArrived(r('b', 9))).toEqual({ kind: 'dispatch', count: 1, avoid: ['a', 'b'] });
    u.dispatched('c');
    expect(u.resultArrived(r('c', 9))).toMatchObject({
      kind: 'accept',
      canonical: { peerId: 'b' },
      agreeing: ['b', 'c'],
      rejected: ['a'],
      checked: true,
    });
  });

  it('TRUST-Q2: with no majority, after maxReplicas the requester re-executes and its result decides', () => {
    const u = quorum(2, 2, 4);
    u.start();
    const results = [1, 2, 3, 4];
    let action = u.start();
    for (let i = 0; i < results.length; i++) {
      u.dispatched(`p${i}`);
      action = u.resultArrived(r(`p${i}`, results[i]!));
    }
    expect(action).toEqual({ kind: 'reexecute' });
    expect(u.resultArrived(r('requester', 2, true))).toMatchObject({
      kind: 'accept',
      agreeing: ['p1'],
      rejected: ['p0', 'p2', 'p3'],
    });
  });

  it('TRUST-Q3: a lost replica is replaced; too many losses hand the unit to the requester', () => {
    const u = quorum(2, 2);
    u.start();
    u.dispatched('a');
    u.dispatched('b');
    expect(u.replicaLost('b')).toEqual({ kind: 'dispatch', count: 1, avoid: ['a', 'b'] });
    expect(u.replicaLost('nobody')).toEqual({ kind: 'wait' });
    let action = u.replicaLost('a');
    for (let i = 0; action.kind === 'dispatch'; i++) {
      u.dispatched(`x${i}`);
      action = u.replicaLost(`x${i}`);
    }
    expect(action).toEqual({ kind: 'reexecute' });
  });

  it('TRUST-Q4: a trusted check decides alone and rejects a disagreeing provider', () => {
    const u = quorum(1, 1, 5, true);
    u.start();
    u.dispatched('a');
    expect(u.resultArrived(r('a', 3))).toEqual({ kind: 'reexecute' });
    expect(u.resultArrived(r('requester', 4, true))).toMatchObject({
      kind: 'accept',
      canonical: { result: 4 },
      agreeing: [],
      rejected: ['a'],
      checked: true,
    });
  });

  it('TRUST-Q5: replicas go to distinct providers and results from peers never sent the unit are refused', () => {
    const u = quorum(2, 2);
    u.start();
    u.dispatched('a');
    expect(() => u.dispatched('a')).toThrow(QuorumStateError);
    expect(() => u.resultArrived(r('mallory', 1))).toThrow(QuorumStateError);
    u.resultArrived(r('a', 1));
    expect(() => u.resultArrived(r('a', 1))).toThrow(QuorumStateError);
    expect(() => u.dispatched('a')).toThrow(QuorumStateError);
    // A replica lost before it answered (dropped channel) may go to the same peer again.
    u.dispatched('b');
    u.replicaLost('b');
    u.dispatched('b');
    expect(u.isOutstanding('b')).toBe(true);
    expect(() => new UnitQuorum({ initialReplicas: 1, quorum: 2, maxReplicas: 3 }, agree)).toThrow(QuorumStateError);
  });

  it('TRUST-Q6: a result arriving after acceptance is judged against the canonical one', () => {
    const u = quorum(3, 2);
    u.start();
    for (const p of ['a', 'b', 'c']) u.dispatched(p);
    u.resultArrived(r('a', 1));
    expect(u.resultArrived(r('b', 1))).toMatchObject({ kind: 'accept' });
    expect(u.resultArrived(r('c', 7))).toEqual({ kind: 'late', peerId: 'c', agrees: false });
  });
});
