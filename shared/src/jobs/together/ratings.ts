/**
 * Ratings: a simpler rule than OpenSkill, sized for rounds of a few providers. A key starts at 0; each
 * accepted contribution moves it a quarter of the way to 1; a refusal sets it to 0, and a second refusal
 * bans the key from the job. A key is trusted from 0.75 (three accepted rounds in a row): trusted keys are
 * screened every round and loss-tested on a sample (1 − 0.8·rating), while new keys are loss-tested in
 * full before their contribution counts, at most RoundsOptions.maxNewPerRound a round so a crowd of fresh keys
 * cannot exhaust the requester (the rest wait for a later round). A trusted key whose sampled test was weak
 * (under the bar without clear harm) drops to 0.5: its next contribution is tested in full, and passing it
 * restores trust. A contribution's weight in the average is 0.5 + 0.5·rating, so a key that has just
 * arrived counts half as much as one with a record.
 */
export interface RatingEntry {
  rating: number;
  accepted: number;
  refused: number;
  banned: boolean;
  /** Rounds this key has waited for a loss test since its last one (new keys queue by it). */
  waiting: number;
}

export const TRUST_AT = 0.75;
const STEP = 0.25;
const BAN_AFTER = 2;

export class Ratings {
  private readonly entries = new Map<string, RatingEntry>();

  entry(key: string): RatingEntry {
    let e = this.entries.get(key);
    if (!e) {
      e = { rating: 0, accepted: 0, refused: 0, banned: false, waiting: 0 };
      this.entries.set(key, e);
    }
    return e;
  }

  /** The key's entry, if it has one (entry() makes one). */
  peek(key: string): Readonly<RatingEntry> | undefined {
    return this.entries.get(key);
  }

  trusted(key: string): boolean {
    return (this.peek(key)?.rating ?? 0) >= TRUST_AT;
  }

  weight(key: string): number {
    return 0.5 + 0.5 * this.entry(key).rating;
  }

  /** Chance that a trusted key's contribution is loss-tested this round. */
  sampleRate(key: string): number {
    return this.trusted(key) ? 1 - 0.8 * this.entry(key).rating : 1;
  }

  accept(key: string): void {
    const e = this.entry(key);
    e.accepted++;
    e.rating = Math.min(1, e.rating + STEP * (1 - e.rating) + (e.rating < TRUST_AT ? STEP * e.rating : 0));
  }

  /** A trusted key whose sampled test was weak: below trust, so its next contribution is tested in full (one accepted test restores it). */
  demote(key: string): void {
    const e = this.entry(key);
    e.rating = Math.min(e.rating, TRUST_AT - STEP);
  }

  refuse(key: string): void {
    const e = this.entry(key);
    e.refused++;
    e.rating = 0;
    if (e.refused >= BAN_AFTER) e.banned = true;
  }

  all(): ReadonlyMap<string, Readonly<RatingEntry>> {
    return this.entries;
  }
}
