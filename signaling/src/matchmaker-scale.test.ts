/**
 * Matching cost (issue 20, item 3): 2,048 unmatchable jobs from one IP and 4 chatty
 * providers made every `status` frame re-run an O(jobs²) match, pushing legitimate
 * relay to p50 576 ms. The matchmaker counts the entries it visits (`work`), so
 * these tests bound the work per event without timing anything.
 */
import { describe, expect, it } from 'vitest';
import { Matchmaker } from './matchmaker';
import { caps, needs } from './testing/fixtures';

const JOBS = 2_048;
const PROVIDERS = 4;

/** 4 wasm providers serving one legitimate job, then 2,048 jobs nobody can serve. */
function floodedMatchmaker(): Matchmaker {
  const mm = new Matchmaker();
  for (let i = 0; i < PROVIDERS; i++) mm.upsertProvider(`p${i}`, caps({ backend: 'wasm' }), 2);
  mm.openJob('honest', 'job-legit', needs({ maxProviders: PROVIDERS, backends: ['wasm'] }));
  for (let i = 0; i < JOBS; i++)
    mm.openJob(`attacker-${i >> 5}`, `job-${String(i).padStart(5, '0')}`, needs({ backends: ['webgpu'] }));
  expect(mm.assignmentsOf('honest', 'job-legit')).toHaveLength(PROVIDERS);
  return mm;
}

describe('matching cost', () => {
  it('MATCH9: a status that changes nothing a match depends on does no matching work', () => {
    const mm = floodedMatchmaker();
    const before = mm.work;
    for (let i = 0; i < 1_000; i++) expect(mm.setProviderStatus(`p${i % PROVIDERS}`, i % 3, false)).toEqual([]);
    expect(mm.work - before).toBe(0);
  });

  it('MATCH9: opening one more unmatchable job costs work linear in the open jobs, not quadratic', () => {
    const mm = floodedMatchmaker();
    const before = mm.work;
    mm.openJob('attacker-x', 'job-one-more', needs({ backends: ['webgpu'] }));
    expect(mm.work - before).toBeLessThan(4 * (JOBS + PROVIDERS));
  });

  it('MATCH9: an unpause re-matches that provider with work linear in the open jobs', () => {
    const mm = floodedMatchmaker();
    mm.setProviderStatus('p0', 0, true);
    const before = mm.work;
    mm.setProviderStatus('p0', 0, false);
    expect(mm.work - before).toBeLessThan(4 * (JOBS + PROVIDERS));
  });

  it('MATCH9: a new provider still finds the hungry job among thousands of unmatchable ones', () => {
    const mm = floodedMatchmaker();
    mm.openJob('honest', 'job-second', needs({ maxProviders: 1, backends: ['wasm'] }));
    // every provider still has a free slot, so the new job was served at once
    expect(mm.assignmentsOf('honest', 'job-second')).toHaveLength(1);
    const before = mm.work;
    mm.upsertProvider('late', caps({ backend: 'wasm' }), 1);
    expect(mm.work - before).toBeLessThan(4 * (JOBS + PROVIDERS));
  });
});
