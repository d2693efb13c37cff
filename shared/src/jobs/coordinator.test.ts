import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReputationBook, resolvePolicy, seededRandom, type JobPolicyInput } from '../trust';
import { JobCoordinator, type CoordinatorCommand } from './coordinator';

type Cmd = CoordinatorCommand<number>;

function coordinator(
  units: number,
  policy: JobPolicyInput = {},
  extra: { done?: number[]; canCheck?: boolean; blamesModel?: (error: string) => boolean } = {},
) {
  return new JobCoordinator<number>({
    blamesModel: extra.blamesModel,
    jobId: 'job-coord',
    units,
    policy: resolvePolicy({ adaptive: false, sampleRate: 0, ...policy }),
    reputation: new ReputationBook(() => 0),
    agree: (a, b) => a.result === b.result,
    canCheck: extra.canCheck ?? true,
    done: extra.done,
    rng: seededRandom(1),
  });
}

const sends = (cmds: Cmd[], peerId?: string) =>
  cmds
    .filter((c) => c.type === 'send' && (peerId === undefined || c.peerId === peerId))
    .map((c) => (c as { unitId: number }).unitId);
const accepts = (cmds: Cmd[]) => cmds.filter((c) => c.type === 'accept') as Extract<Cmd, { type: 'accept' }>[];

describe('job coordinator: scheduling', () => {
  it('JOB1: hands out each unit once and completes when every unit is accepted', () => {
    const c = coordinator(5);
    const held = new Map<string, number[]>([
      ['a', sends(c.providerReady('a', 'x'))],
      ['b', sends(c.providerReady('b', 'x'))],
    ]);
    expect([...held.values()].flat()).toEqual([0, 1, 2, 3]);
    const accepted: number[] = [];
    while (!c.complete) {
      for (const [peer, units] of held) {
        const unit = units.shift();
        if (unit === undefined) continue;
        const out = c.resultArrived(peer, unit, unit);
        accepted.push(...accepts(out).map((a) => a.unitId));
        for (const [p] of held) held.get(p)!.push(...sends(out, p));
      }
    }
    expect(accepted.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('JOB2: a lost provider gives its in-flight units back', () => {
    const c = coordinator(3);
    expect(sends(c.providerReady('a', 'x'))).toEqual([0, 1]);
    expect(sends(c.providerGone('a'))).toEqual([]);
    expect(sends(c.providerReady('b', 'x'))).toEqual([0, 1]);
  });

  it('JOB3: resuming skips units already done', () => {
    const c = coordinator(4, {}, { done: [0, 2] });
    expect(c.finished).toBe(2);
    expect(sends(c.providerReady('a', 'x'))).toEqual([1, 3]);
  });

  it('JOB4: redundancy k needs k distinct providers before a unit is done', () => {
    const c = coordinator(1, { redundancy: 2 });
    expect(sends(c.providerReady('a', 'x'))).toEqual([0]);
    expect(sends(c.providerReady('b', 'x'))).toEqual([0]);
    expect(c.resultArrived('a', 0, 7)).toEqual([]);
    expect(accepts(c.resultArrived('b', 0, 7))).toMatchObject([{ unitId: 0, providers: ['a', 'b'], checked: true }]);
    expect(c.complete).toBe(true);
  });

  it('JOB5: when nothing is pending, an idle provider speculates on a stalled unit; the late result is a duplicate', () => {
    const c = coordinator(1);
    expect(sends(c.providerReady('slow', 'x'))).toEqual([0]);
    expect(sends(c.providerReady('fast', 'x'))).toEqual([0]);
    expect(accepts(c.resultArrived('fast', 0, 3))).toMatchObject([{ unitId: 0, providers: ['fast'] }]);
    expect(c.resultArrived('slow', 0, 3)).toEqual([{ type: 'duplicate', peerId: 'slow', unitId: 0 }]);
    expect(c.finished).toBe(1);
    expect(c.stats.duplicates).toBe(1);
  });

  it('JOB6: under any interleaving of ready/result/loss, every unit is accepted exactly once', () => {
    const op = fc.record({ peer: fc.constantFrom('a', 'b', 'c'), kind: fc.constantFrom('ready', 'result', 'lose') });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 200 }), (units, ops) => {
        const c = coordinator(units);
        const held = new Map<string, number[]>();
        const accepted: number[] = [];
        const run = (out: Cmd[]) => {
          accepted.push(...accepts(out).map((a) => a.unitId));
          for (const cmd of out)
            if (cmd.type === 'send') held.set(cmd.peerId, [...(held.get(cmd.peerId) ?? []), cmd.unitId]);
        };
        for (const { peer, kind } of ops) {
          const mine = held.get(peer) ?? [];
          if (kind === 'ready') run(c.providerReady(peer, 'x'));
          else if (kind === 'result' && mine.length) {
            const unit = mine.shift()!;
            run(c.resultArrived(peer, unit, unit));
          } else if (kind === 'lose') {
            held.delete(peer);
            run(c.providerGone(peer));
          }
        }
        // the old providers leave; one fresh provider drains what is left
        for (const peer of ['a', 'b', 'c']) {
          held.delete(peer);
          run(c.providerGone(peer));
        }
        run(c.providerReady('z', 'x'));
        for (let unit = held.get('z')?.shift(); unit !== undefined; unit = held.get('z')?.shift())
          run(c.resultArrived('z', unit, unit));
        expect(c.complete).toBe(true);
        expect(accepted.sort((x, y) => x - y)).toEqual(Array.from({ length: units }, (_, i) => i));
      }),
      { numRuns: 500 },
    );
  });

  it('JOB7: a disagreeing quorum asks one more provider that has not answered; its majority finishes the unit', () => {
    const c = coordinator(1, { redundancy: 2 }, { canCheck: false });
    expect(sends(c.providerReady('a', 'x'))).toEqual([0]);
    expect(sends(c.providerReady('b', 'x'))).toEqual([0]);
    expect(c.resultArrived('a', 0, 1)).toEqual([]);
    expect(c.resultArrived('b', 0, 2)).toEqual([{ type: 'disagreement', unitId: 0 }]);
    expect(c.complete).toBe(false);
    expect(sends(c.providerReady('a', 'x'))).toEqual([]);
    expect(sends(c.providerReady('b', 'x'))).toEqual([]);
    expect(sends(c.providerReady('c', 'x'))).toEqual([0]);
    expect(sends(c.providerReady('d', 'x'))).toEqual([]);
    const out = c.resultArrived('c', 0, 1);
    expect(accepts(out)).toMatchObject([{ unitId: 0, result: 1, providers: ['a', 'c'] }]);
    expect(out).toContainEqual(expect.objectContaining({ type: 'reject', peerId: 'b' }));
    expect(c.complete).toBe(true);
  });
});

describe('job coordinator: verification', () => {
  it('TRUST-A1: a new key is checked by the requester; its provider waits for at most two pending checks', () => {
    const c = coordinator(6, { adaptive: true, sampleRate: 0.03, checkWith: 'requester' });
    expect(sends(c.providerReady('new', 'x'))).toEqual([0, 1]);
    expect(c.resultArrived('new', 0, 0)).toEqual([
      { type: 'check', unitId: 0 },
      { type: 'send', peerId: 'new', unitId: 2 },
    ]);
    expect(c.resultArrived('new', 1, 1)).toEqual([{ type: 'check', unitId: 1 }]); // two checks pending: no more work
    const out = c.checkDone(0, 0, 'x');
    expect(accepts(out)).toMatchObject([{ unitId: 0, providers: ['new'], checked: true }]);
    expect(sends(out)).toEqual([3]);
    expect(c.stats.checks).toEqual({ checked: 1, failed: 0 });
  });

  it('TRUST-P2: a result the requester check refutes excludes its key; the unit goes back to honest providers', () => {
    const c = coordinator(2, { adaptive: true, sampleRate: 0.03, checkWith: 'requester' });
    c.providerReady('bad', 'x');
    c.resultArrived('bad', 0, 666);
    const out = c.checkDone(0, 0, 'x');
    expect(out).toContainEqual(expect.objectContaining({ type: 'reject', peerId: 'bad' }));
    expect(accepts(out)).toEqual([]); // the requester's run was a check: the unit is the providers' work
    expect(c.stats.checks).toEqual({ checked: 1, failed: 1 });
    expect(sends(c.providerReady('bad', 'x'))).toEqual([]);
    expect(sends(c.providerReady('good', 'x'))).toEqual([0, 1]);
  });

  it('TRUST-P2: refusing a key (bad signature) re-runs the units it alone vouched for', () => {
    const c = coordinator(3);
    c.providerReady('p', 'x');
    c.resultArrived('p', 0, 0);
    expect(c.finished).toBe(1);
    const out = c.refuse('p', 'result for unit 1 dropped: bad signature', 1);
    expect(out[0]).toEqual({
      type: 'reject',
      peerId: 'p',
      reason: 'result for unit 1 dropped: bad signature',
      rerun: [0],
    });
    expect(c.finished).toBe(0);
    expect(c.rerunUnits()).toEqual([0]);
    expect(sends(c.providerReady('q', 'x'))).toEqual([0, 1]);
  });

  it('a check that cannot run accepts the result unchecked and rejects nobody', () => {
    const c = coordinator(1, { adaptive: true, sampleRate: 0.03, checkWith: 'requester' });
    c.providerReady('p', 'x');
    expect(c.resultArrived('p', 0, 5)).toEqual([{ type: 'check', unitId: 0 }]);
    expect(accepts(c.checkUnavailable(0))).toMatchObject([{ unitId: 0, result: 5, providers: ['p'], checked: false }]);
    expect(c.stats.rejected).toBe(0);
  });

  it('TRUST-Q2: replicas that disagree with no other provider left are settled by the requester', () => {
    const c = coordinator(1, { redundancy: 2 });
    c.providerReady('a', 'x');
    c.providerReady('b', 'x');
    c.resultArrived('a', 0, 1);
    const out = c.resultArrived('b', 0, 2);
    expect(out).toEqual([
      { type: 'disagreement', unitId: 0 },
      { type: 'check', unitId: 0 },
    ]);
    const settled = c.checkDone(0, 2, 'x');
    expect(accepts(settled)).toMatchObject([{ result: 2, providers: ['b'] }]);
    expect(settled).toContainEqual(expect.objectContaining({ type: 'reject', peerId: 'a' }));
  });

  it('TRUST-Q2: without an engine to settle them, the job fails with why', () => {
    const c = coordinator(1, { redundancy: 2, maxReplicas: 2 }, { canCheck: false });
    c.providerReady('a', 'x');
    c.providerReady('b', 'x');
    c.resultArrived('a', 0, 1);
    expect(c.resultArrived('b', 0, 2)).toContainEqual({
      type: 'fail',
      reason: 'replicas of unit 0 never agreed and this browser has no engine to decide between them',
    });
  });
});

describe('job coordinator: failing units', () => {
  it('JOB8: an error that repeats for one unit (one provider or two) fails the job with it; no retry storm', () => {
    const one = coordinator(2);
    expect(sends(one.providerReady('p', 'x'))).toEqual([0, 1]);
    const error = 'Got invalid dimensions for input: 0 Got: 16 Expected: 20';
    expect(sends(one.unitFailed('p', 0, error))).toEqual([0]); // first failure: tried again
    expect(one.unitFailed('p', 0, error)).toEqual([
      { type: 'fail', reason: `unit 0 fails the same way on every try: ${error}` },
    ]);
    expect(sends(one.providerReady('q', 'x'))).toEqual([]); // a failed job dispatches nothing more

    const two = coordinator(1);
    two.providerReady('a', 'x');
    two.providerReady('b', 'x'); // speculative copy
    expect(two.unitFailed('a', 0, error)).toEqual([{ type: 'send', peerId: 'a', unitId: 0 }]); // tried again
    expect(two.unitFailed('b', 0, error)).toContainEqual({
      type: 'fail',
      reason: `unit 0 fails the same way on every try: ${error}`,
    });
    expect(two.stats.rejected).toBe(0); // nobody is blamed
  });

  it('JOB8: different errors end the job at the fourth; a declined unit (paused provider) never counts', () => {
    const c = coordinator(1);
    c.providerReady('p', 'x');
    for (let i = 0; i < 10; i++) {
      expect(sends(c.unitFailed('p', 0))).toEqual([0]); // declined: sent again, nothing counted
    }
    expect(sends(c.unitFailed('p', 0, 'device lost'))).toEqual([0]);
    expect(sends(c.unitFailed('p', 0, 'out of memory'))).toEqual([0]);
    expect(sends(c.unitFailed('p', 0, 'worker crashed'))).toEqual([0]);
    expect(c.unitFailed('p', 0, 'tab closed')).toEqual([{ type: 'fail', reason: 'unit 0 failed 4 times: tab closed' }]);
  });
});

describe('job coordinator: failing units, whose fault', () => {
  const deviceFault = (error: string) => !/device|memory/.test(error);

  it('JOB9: an error that blames the model may not repeat; one that blames the device does not end the job', () => {
    const c = coordinator(1, {}, { blamesModel: deviceFault });
    c.providerReady('p', 'x');
    c.providerReady('q', 'x'); // a speculative copy
    expect(sends(c.unitFailed('p', 0, 'device lost'))).toEqual([0]); // the provider's device, not the unit: again
    expect(sends(c.unitFailed('q', 0, 'device lost'))).toEqual([0]); // the same words on another device: again
    expect(sends(c.unitFailed('p', 0, 'indices element out of data bounds'))).toEqual([0]); // first time: again
    expect(c.unitFailed('q', 0, 'indices element out of data bounds')).toEqual([
      { type: 'fail', reason: 'unit 0 fails the same way on every try: indices element out of data bounds' },
    ]);
    expect(c.stats.rejected).toBe(0);
  });

  it('JOB9: a provider whose device fails twice in a row is dropped, not blamed; its units go to others', () => {
    const c = coordinator(4, {}, { blamesModel: deviceFault });
    expect(sends(c.providerReady('p', 'x'))).toEqual([0, 1]);
    expect(sends(c.providerReady('q', 'x'))).toEqual([2, 3]);
    expect(sends(c.unitFailed('p', 0, 'device lost'))).toEqual([0]);
    expect(c.resultArrived('p', 1, 1).some((x) => x.type === 'accept')).toBe(true); // a success resets the count
    expect(sends(c.unitFailed('p', 0, 'out of memory'))).toEqual([0]);
    const out = c.unitFailed('p', 0, 'device lost');
    expect(out).toContainEqual({ type: 'drop', peerId: 'p', reason: 'failed 2 units in a row: device lost' });
    expect(sends(out, 'p')).toEqual([]);
    expect(sends(c.providerReady('p', 'x'))).toEqual([]); // dropped for this job, even when it says ready again
    expect(c.stats.rejected).toBe(0);
    expect(c.isExcluded('p')).toBe(false);
    // q takes unit 0 once it has room.
    expect(sends(c.resultArrived('q', 2, 2), 'q')).toEqual([0]);
  });

  it('JOB9: a unit that only ever fails on devices still ends the job at MAX_UNIT_FAILURES, not after every provider', () => {
    const c = coordinator(1, {}, { blamesModel: deviceFault });
    const queue: Cmd[] = [];
    for (const p of ['a', 'b', 'c', 'd', 'e', 'f']) queue.push(...c.providerReady(p, 'x'));
    let failures = 0;
    let fail: Cmd | undefined;
    while (!fail && queue.length > 0) {
      const next = queue.shift()!;
      if (next.type !== 'send') continue;
      failures++;
      const out = c.unitFailed(next.peerId, next.unitId, 'out of memory');
      fail = out.find((x) => x.type === 'fail');
      queue.push(...out);
    }
    expect(failures).toBe(4);
    expect(fail).toEqual({ type: 'fail', reason: 'unit 0 failed 4 times: out of memory' });
    expect(c.stats.rejected).toBe(0);
  });

  it('JOB10: a provider that cannot load the model declines it: its units go back, nobody is blamed', () => {
    const c = coordinator(3, {}, { blamesModel: deviceFault });
    expect(sends(c.providerReady('p', 'x'))).toEqual([0, 1]);
    expect(c.canRun).toBe(true);
    const out = c.providerDeclined('p', 'the model does not load on webgpu');
    expect(out).toContainEqual({ type: 'drop', peerId: 'p', reason: 'the model does not load on webgpu' });
    expect(c.inFlight()).toBe(0);
    expect(c.canRun).toBe(false); // nothing can run: the job waits for another provider
    expect(c.stats.rejected).toBe(0);
    expect(sends(c.providerReady('q', 'x'))).toEqual([0, 1]);
    expect(c.canRun).toBe(true);
    // A provider declining before it ever was ready is remembered too.
    expect(c.providerDeclined('r', 'no')).toContainEqual({ type: 'drop', peerId: 'r', reason: 'no' });
    expect(sends(c.providerReady('r', 'x'))).toEqual([]);
  });
});
