import { describe, expect, it } from 'vitest';
import { Matchmaker, type MatchEvent } from './matchmaker';
import { caps, needs } from './testing/fixtures';

const matched = (events: MatchEvent[]) =>
  events.filter((e) => e.kind === 'matched').map((e) => `${e.jobId}<-${e.providerId}`);

/** A matchmaker whose reputation lookup reads a plain map the test edits. */
function withReports(reports: Record<string, number>) {
  return new Matchmaker((id) => reports[id] ?? 0);
}

describe('matchmaker and reputation', () => {
  it('REP2: fewer reports win before load and speed', () => {
    const mm = withReports({ 'fast-reported': 1, 'twice-reported': 2 });
    mm.upsertProvider('fast-reported', caps({ gflops: 500 }), 1);
    mm.upsertProvider('twice-reported', caps({ gflops: 900 }), 1);
    mm.upsertProvider('slow-clean', caps({ gflops: 5 }), 2);
    mm.setProviderStatus('slow-clean', 1, false);
    expect(matched(mm.openJob('R', 'job-a', needs({ maxProviders: 1 })))).toEqual(['job-a<-slow-clean']);
    // slow-clean still has a slot; then one report ranks before two, though two is faster.
    expect(matched(mm.openJob('R', 'job-b', needs({ maxProviders: 3 })))).toEqual([
      'job-b<-slow-clean',
      'job-b<-fast-reported',
      'job-b<-twice-reported',
    ]);
  });

  it('REP2: a reported provider is deprioritised, not excluded: alone, it is matched', () => {
    const mm = withReports({ p: 3 });
    mm.upsertProvider('p', caps(), 1);
    expect(matched(mm.openJob('R', 'job-a', needs()))).toEqual(['job-a<-p']);
  });

  it('REP2: without reports the order is MATCH2 unchanged', () => {
    const mm = withReports({});
    mm.upsertProvider('slow', caps({ gflops: 5 }), 1);
    mm.upsertProvider('fast', caps({ gflops: 50 }), 1);
    expect(matched(mm.openJob('R', 'job-a', needs({ maxProviders: 1 })))).toEqual(['job-a<-fast']);
  });

  it('REP1: report unmatches (reported), never re-matches to that job, and leaves other jobs alone', () => {
    const mm = withReports({});
    mm.upsertProvider('p', caps(), 2);
    mm.openJob('R', 'job-a', needs());
    mm.openJob('R', 'job-b', needs());
    expect(mm.report('R', 'job-a', 'p')).toEqual([
      { kind: 'unmatched', requester: 'R', jobId: 'job-a', providerId: 'p', reason: 'reported' },
    ]);
    expect(mm.upsertProvider('p', caps(), 2)).toEqual([]);
    expect(mm.isPaired('R', 'job-a', 'p')).toBe(false);
    expect(mm.isPaired('R', 'job-b', 'p')).toBe(true);
  });

  it('REP1: only a provider that served the open job can be reported, even after it left or was released', () => {
    const mm = withReports({});
    mm.upsertProvider('p', caps(), 1);
    mm.openJob('R', 'job-a', needs());
    expect(mm.report('R', 'job-a', 'stranger')).toBeNull();
    expect(mm.report('other', 'job-a', 'p')).toBeNull();
    mm.release('R', 'job-a', 'p');
    expect(mm.hasServed('R', 'job-a', 'p')).toBe(true);
    expect(mm.report('R', 'job-a', 'p')).toEqual([]);
    mm.closeJob('R', 'job-a');
    expect(mm.report('R', 'job-a', 'p')).toBeNull();
  });
});
