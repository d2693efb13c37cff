import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UnitQueue } from './queue';

describe('UnitQueue', () => {
  it('JOB1: hands out each unit once and completes when every unit is accepted', () => {
    const q = new UnitQueue(5, 1);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(q.assign(i % 2 ? 'a' : 'b')!);
    expect(new Set(seen).size).toBe(5);
    seen.forEach((id, i) => expect(q.accept(id, i % 2 ? 'a' : 'b')).toBe('done'));
    expect(q.complete).toBe(true);
  });

  it('JOB2: a lost provider gives its in-flight units back', () => {
    const q = new UnitQueue(3, 1);
    expect(q.assign('a')).toBe(0);
    expect(q.assign('a')).toBe(1);
    expect(q.releasePeer('a')).toEqual([0, 1]);
    expect(q.assign('b')).toBe(0);
  });

  it('JOB3: resuming skips units already done', () => {
    const q = new UnitQueue(4, 1, [0, 2]);
    expect(q.finished).toBe(2);
    expect(q.assign('a')).toBe(1);
    expect(q.assign('a')).toBe(3);
  });

  it('JOB4: redundancy k needs k distinct providers before a unit is done', () => {
    const q = new UnitQueue(1, 2);
    expect(q.assign('a')).toBe(0);
    expect(q.assign('a')).toBeUndefined();
    expect(q.assign('b')).toBe(0);
    expect(q.accept(0, 'a')).toBe('more');
    expect(q.accept(0, 'b')).toBe('done');
  });

  it('JOB5: when nothing is pending, an idle provider speculates on a stalled unit; the late result is a duplicate', () => {
    const q = new UnitQueue(1, 1);
    expect(q.assign('slow')).toBe(0);
    expect(q.assign('fast')).toBe(0);
    expect(q.accept(0, 'fast')).toBe('done');
    expect(q.accept(0, 'slow')).toBe('duplicate');
    expect(q.finished).toBe(1);
  });

  it('JOB6: under any interleaving of assign/accept/loss, every unit finishes exactly once', () => {
    const op = fc.record({ peer: fc.constantFrom('a', 'b', 'c'), kind: fc.constantFrom('assign', 'accept', 'lose') });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 200 }), (units, ops) => {
        const q = new UnitQueue(units, 1);
        const held = new Map<string, number[]>();
        let doneEvents = 0;
        for (const { peer, kind } of ops) {
          const mine = held.get(peer) ?? [];
          if (kind === 'assign') {
            const id = q.assign(peer);
            if (id !== undefined) mine.push(id);
          } else if (kind === 'accept' && mine.length) {
            if (q.accept(mine.shift()!, peer) === 'done') doneEvents++;
          } else if (kind === 'lose') {
            q.releasePeer(peer);
            mine.length = 0;
          }
          held.set(peer, mine);
        }
        // the old providers leave; one fresh provider drains what is left
        for (const peer of ['a', 'b', 'c']) q.releasePeer(peer);
        for (let id = q.assign('z'); id !== undefined; id = q.assign('z'))
          if (q.accept(id, 'z') === 'done') doneEvents++;
        expect(q.complete).toBe(true);
        expect(doneEvents).toBe(units);
      }),
      { numRuns: 500 },
    );
  });

  it('JOB7: a disagreeing quorum asks for one more replica from a provider that has not answered; settle finishes the unit at once', () => {
    const q = new UnitQueue(1, 2);
    expect(q.assign('a')).toBe(0);
    expect(q.assign('b')).toBe(0);
    expect(q.answered(0, 'a')).toBe(true);
    q.requestReplica(0);
    expect(q.answered(0, 'b')).toBe(true);
    expect(q.complete).toBe(false);
    expect(q.assign('a')).toBeUndefined();
    expect(q.assign('b')).toBeUndefined();
    expect(q.assign('c')).toBe(0);
    expect(q.assign('d')).toBeUndefined();
    expect(q.settle(0)).toBe(true);
    expect(q.settle(0)).toBe(false);
    expect(q.complete).toBe(true);
    expect(q.answered(0, 'c')).toBe(false);
  });
});
