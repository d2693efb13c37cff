import { describe, expect, it } from 'vitest';
import { Matchmaker, type MatchEvent } from './matchmaker';
import { caps, needs } from './testing/fixtures';

const matched = (events: MatchEvent[]) =>
  events.filter((e) => e.kind === 'matched').map((e) => `${e.jobId}<-${e.providerId}`);

describe('matchmaker', () => {
  it('MATCH1: only providers with an allowed backend and enough GFLOP/s are matched', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('gpu', caps({ backend: 'webgpu', gflops: 500 }), 1);
    mm.upsertProvider('slow', caps({ backend: 'wasm', gflops: 5 }), 1);
    mm.upsertProvider('fast', caps({ backend: 'wasm', gflops: 50 }), 1);
    const events = mm.openJob('R', 'job-wasm', needs({ backends: ['wasm'], minGflops: 10 }));
    expect(matched(events)).toEqual(['job-wasm<-fast']);
  });

  it('MATCH1: a re-announce that no longer meets the needs unmatches', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('p', caps({ gflops: 50 }), 1);
    mm.openJob('R', 'job-1', needs({ minGflops: 10 }));
    const events = mm.upsertProvider('p', caps({ gflops: 1 }), 1);
    expect(events).toEqual([
      { kind: 'unmatched', requester: 'R', jobId: 'job-1', providerId: 'p', reason: 'not-capable' },
    ]);
  });

  it('MATCH2: prefers the least loaded provider, then the fastest', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('busy-fast', caps({ gflops: 100 }), 2);
    mm.upsertProvider('idle-slow', caps({ gflops: 10 }), 2);
    mm.upsertProvider('idle-fast', caps({ gflops: 40 }), 2);
    mm.setProviderStatus('busy-fast', 2, false);
    expect(matched(mm.openJob('R', 'job-1', needs({ maxProviders: 1 })))).toEqual(['job-1<-idle-fast']);
    // idle-fast now holds one of two slots (load 0.5); idle-slow is idle (load 0).
    expect(matched(mm.openJob('R', 'job-2', needs({ maxProviders: 1 })))).toEqual(['job-2<-idle-slow']);
  });

  it('MATCH2: a provider never holds more jobs than its slots', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('p', caps(), 2);
    for (const id of ['job-1', 'job-2', 'job-3']) mm.openJob('R', id, needs());
    expect(mm.jobsOfProvider('p')).toHaveLength(2);
    const events = mm.upsertProvider('p', caps(), 1);
    expect(events.filter((e) => e.kind === 'unmatched')).toHaveLength(1);
    expect(mm.jobsOfProvider('p')).toHaveLength(1);
  });

  it('MATCH3: concurrent jobs share providers round-robin instead of the first taking all', () => {
    const mm = new Matchmaker();
    mm.openJob('R1', 'job-a', needs({ maxProviders: 8 }));
    mm.openJob('R2', 'job-b', needs({ maxProviders: 8 }));
    for (let i = 0; i < 6; i++) mm.upsertProvider(`p${i}`, caps(), 1);
    expect(mm.assignmentsOf('R1', 'job-a')).toHaveLength(3);
    expect(mm.assignmentsOf('R2', 'job-b')).toHaveLength(3);
  });

  it('MATCH3: a job opened after another took every provider gets a share (rebalanced)', () => {
    const mm = new Matchmaker();
    for (let i = 0; i < 4; i++) mm.upsertProvider(`p${i}`, caps(), 1);
    mm.openJob('R1', 'job-a', needs({ maxProviders: 8 }));
    expect(mm.assignmentsOf('R1', 'job-a')).toHaveLength(4);
    const events = mm.openJob('R2', 'job-b', needs({ maxProviders: 8 }));
    expect(mm.assignmentsOf('R1', 'job-a')).toHaveLength(2);
    expect(mm.assignmentsOf('R2', 'job-b')).toHaveLength(2);
    expect(
      events.filter((e) => e.kind === 'unmatched').every((e) => e.kind === 'unmatched' && e.reason === 'rebalanced'),
    ).toBe(true);
    // Unmatched always precedes the matched it makes room for.
    expect(events[0]?.kind).toBe('unmatched');
  });

  it('MATCH3: maxProviders is respected', () => {
    const mm = new Matchmaker();
    for (let i = 0; i < 5; i++) mm.upsertProvider(`p${i}`, caps(), 1);
    mm.openJob('R', 'job-1', needs({ maxProviders: 2 }));
    expect(mm.assignmentsOf('R', 'job-1')).toHaveLength(2);
  });

  it('MATCH4: paused providers get no new jobs but keep the ones they have', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('p', caps(), 2);
    mm.openJob('R', 'job-1', needs());
    expect(mm.setProviderStatus('p', 1, true)).toEqual([]);
    expect(mm.openJob('R', 'job-2', needs())).toEqual([]);
    expect(mm.isPaired('R', 'job-1', 'p')).toBe(true);
    expect(matched(mm.setProviderStatus('p', 1, false))).toEqual(['job-2<-p']);
  });

  it('MATCH5: removing a provider re-runs matching for its jobs', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('a', caps({ gflops: 50 }), 1);
    mm.openJob('R', 'job-1', needs({ maxProviders: 1 }));
    mm.upsertProvider('b', caps({ gflops: 10 }), 1);
    const events = mm.removeProvider('a');
    expect(events.map((e) => e.kind)).toEqual(['unmatched', 'matched']);
    expect(mm.isPaired('R', 'job-1', 'b')).toBe(true);
  });

  it('MATCH6: a released provider is not re-matched to that job but serves others', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('p', caps(), 2);
    mm.openJob('R', 'job-1', needs());
    expect(mm.release('R', 'job-1', 'p')?.map((e) => e.kind)).toEqual(['unmatched']);
    expect(mm.release('R', 'job-1', 'p')).toBeNull();
    expect(matched(mm.openJob('R', 'job-2', needs()))).toEqual(['job-2<-p']);
  });

  it('MATCH7: job ids are scoped per requester; removing a requester drops only its jobs', () => {
    const mm = new Matchmaker();
    mm.upsertProvider('p', caps(), 2);
    mm.openJob('R1', 'job-1', needs());
    mm.openJob('R2', 'job-1', needs());
    expect(mm.isPaired('R1', 'job-1', 'p') && mm.isPaired('R2', 'job-1', 'p')).toBe(true);
    const events = mm.removeRequester('R1');
    expect(events).toEqual([
      { kind: 'unmatched', requester: 'R1', jobId: 'job-1', providerId: 'p', reason: 'requester-left' },
    ]);
    expect(mm.hasJob('R2', 'job-1')).toBe(true);
  });
});
