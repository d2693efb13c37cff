/**
 * A matchmaker restored from another's snapshot (SPEC SCALE7) decides as the
 * original: the same events for the same following changes, and the same state.
 */
import { describe, expect, it } from 'vitest';
import { Matchmaker, type MatchEvent } from './matchmaker';
import { caps, needs } from './testing/fixtures';
import { seededRng } from './testing/fuzz-frames';

const key = (prefix: string, i: number) => prefix + String(i).padStart(43 - prefix.length, '0');

type Change = (mm: Matchmaker) => MatchEvent[] | null;

/** A random change, drawn whole now so that it does the same to every matchmaker it is applied to. */
function randomChange(rng: () => number): Change {
  const provider = key('P', Math.floor(rng() * 12));
  const requester = key('R', Math.floor(rng() * 5));
  const jobId = `job-0000${Math.floor(rng() * 4)}`;
  const backend = rng() < 0.5 ? 'wasm' : 'webgpu';
  const [a, b, c] = [rng(), rng(), rng()];
  const r = rng();
  if (r < 0.25)
    return (mm) => mm.upsertProvider(provider, caps({ backend, gflops: Math.floor(a * 100) }), 1 + Math.floor(b * 3));
  if (r < 0.35) return (mm) => mm.setProviderStatus(provider, Math.floor(a * 3), b < 0.3);
  if (r < 0.45) return (mm) => mm.removeProvider(provider);
  if (r < 0.65) {
    const jobNeeds = needs({ maxProviders: 1 + Math.floor(a * 4), ...(c < 0.3 ? { backends: [backend] } : {}) });
    return (mm) => mm.openJob(requester, jobId, jobNeeds);
  }
  if (r < 0.72) return (mm) => mm.closeJob(requester, jobId);
  if (r < 0.78) return (mm) => mm.removeRequester(requester);
  if (r < 0.9) return (mm) => mm.release(requester, jobId, provider);
  return (mm) => mm.report(requester, jobId, provider);
}

describe('matchmaker snapshots (SCALE7)', () => {
  it('SCALE7: restored from a snapshot in JSON, a matchmaker makes the same events and ends in the same state', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = seededRng(seed);
      const changes = Array.from({ length: 400 }, () => randomChange(rng));
      const original = new Matchmaker();
      for (const change of changes.slice(0, 200)) change(original);
      const restored = new Matchmaker();
      restored.restore(JSON.parse(JSON.stringify(original.snapshot())));
      expect(restored.snapshot()).toEqual(original.snapshot());
      let events = 0;
      for (const change of changes.slice(200)) {
        const expected = change(original);
        expect(change(restored)).toEqual(expected);
        events += expected?.length ?? 0;
      }
      expect(restored.snapshot()).toEqual(original.snapshot());
      expect(events).toBeGreaterThan(0);
    }
  });
});
