import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRecordError } from './errors';
import { ReputationBook, ReputationSummarySchema, reputationScore } from './reputation';
import * as v from 'valibot';

const key = (c: string) => c.repeat(43);

describe('reputation', () => {
  it('TRUST-P1: counts accepted, verified, rejected and pending per key', () => {
    const book = new ReputationBook(() => 1000);
    book.recordPending(key('a'));
    book.recordPending(key('a'));
    expect(book.get(key('a'))).toMatchObject({ pending: 2, accepted: 0 });
    book.recordAccepted(key('a'), true);
    book.recordAccepted(key('a'), false);
    expect(book.get(key('a'))).toMatchObject({
      pending: 0,
      accepted: 2,
      verified: 1,
      rejected: 0,
      excluded: false,
      firstSeen: 1000,
    });
  });

  it('TRUST-P2: a caught wrong result excludes the key', () => {
    const book = new ReputationBook(() => 0);
    book.recordPending(key('b'));
    book.recordRejected(key('b'), 'value mismatch');
    expect(book.isExcluded(key('b'))).toBe(true);
    expect(book.get(key('b'))).toMatchObject({ rejected: 1, pending: 0, reason: 'value mismatch' });
  });

  it('TRUST-P3: snapshots round-trip through JSON and malformed ones are refused', () => {
    const book = new ReputationBook(() => 5);
    book.recordAccepted(key('a'), true);
    book.recordRejected(key('c'), 'x');
    const restored = ReputationBook.fromJSON(JSON.parse(JSON.stringify(book.toJSON())));
    expect(restored.toJSON()).toEqual(book.toJSON());
    const good = book.toJSON();
    const bad: unknown[] = [
      null,
      { v: 2, providers: [] },
      { ...good, providers: [{ ...good.providers[0], accepted: -1 }] },
      { ...good, providers: [{ ...good.providers[0], peerId: 'short' }] },
      { ...good, providers: [{ ...good.providers[0], verified: 10 }] },
      { ...good, providers: [{ ...good.providers[1], excluded: false }] },
      { ...good, providers: [good.providers[0], good.providers[0]] },
      { ...good, providers: [{ ...good.providers[0], __proto__: { accepted: 1e9 }, extra: 1 }] },
    ];
    for (const b of bad) expect(() => ReputationBook.fromJSON(b), JSON.stringify(b)).toThrow(InvalidRecordError);
  });

  it('TRUST-P4: the matchmaking summary is compact; score is 0 for new keys, grows with clean history, sinks on a rejection', () => {
    expect(reputationScore({ accepted: 0, rejected: 0 })).toBe(0);
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(100), (clean, more) => {
        const s = reputationScore({ accepted: clean, rejected: 0 });
        return (
          s >= 0 &&
          s <= 1 &&
          reputationScore({ accepted: clean + more, rejected: 0 }) >= s &&
          reputationScore({ accepted: clean, rejected: 1 }) < s + 1e-12
        );
      }),
      { seed: 1 },
    );
    expect(reputationScore({ accepted: 1000, rejected: 1 })).toBeLessThan(
      reputationScore({ accepted: 20, rejected: 0 }),
    );
    const book = new ReputationBook(() => 0);
    for (let i = 0; i < 50; i++) book.recordAccepted(key('d'), i % 2 === 0);
    const summary = book.summary(key('d'))!;
    expect(v.is(ReputationSummarySchema, summary)).toBe(true);
    expect(Object.keys(summary).sort()).toEqual(['excluded', 'peerId', 'rejected', 'score', 'units']);
    expect(book.summaries()).toHaveLength(1);
  });
});
