import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Leaderboard } from '@shared/trust';
import { RankedBoard } from './ranked-board';

const receipt = (provider: string, requester: string, flops: number, issuedAt = 1) => ({
  provider,
  requester,
  flops,
  issuedAt,
});

describe('leaderboard kept ranked', () => {
  it('HTTP13: after every receipt each minRequesters view equals the sort-on-demand reference', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            provider: fc.integer({ min: 0, max: 12 }),
            requester: fc.integer({ min: 0, max: 4 }),
            flops: fc.integer({ min: 0, max: 50 }),
            issuedAt: fc.integer({ min: 0, max: 1000 }),
          }),
          { maxLength: 120 },
        ),
        (receipts) => {
          const ranked = new RankedBoard(5, 4);
          const reference = new Leaderboard();
          for (const r of receipts) {
            const rec = receipt(`p${r.provider}`, `r${r.requester}`, r.flops, r.issuedAt);
            ranked.add(rec);
            reference.add(rec);
            for (let m = 1; m <= 4; m++)
              for (const limit of [1, 3, 5]) expect(ranked.top(limit, m)).toEqual(reference.top(limit, m));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('HTTP13: one receipt plus a GET of every minRequesters view costs the kept rows, not a sort of every provider', () => {
    const keep = 1_000;
    const ranked = new RankedBoard(keep, 16);
    for (let i = 0; i < 100_000; i++) ranked.add(receipt(`p${String(i).padStart(6, '0')}`, 'r0', i % 977));
    for (let round = 0; round < 20; round++) {
      const before = ranked.work;
      ranked.add(receipt(`p${String(round * 4_999).padStart(6, '0')}`, `r${round}`, 5_000));
      for (let m = 1; m <= 16; m++) ranked.top(100, m);
      // each list it is in: find it (≤ keep) and move it up (≤ keep); the reference sorts 100,000 rows per view
      expect(ranked.work - before).toBeLessThanOrEqual(16 * 2 * keep);
    }
    expect(ranked.top(1, 1)[0]?.flops).toBeGreaterThanOrEqual(5_000);
  });
});
