/**
 * The leaderboard kept ranked as receipts arrive (SPEC HTTP13), so a GET never
 * sorts: for each `minRequesters` value it holds the top `keep` rows in order.
 * Credit only grows (FLOPs, units and distinct requesters never go down), so a
 * row can only move up; one receipt moves one row in at most `maxMin` lists of
 * `keep` entries. The trust core's Leaderboard (sort on demand) is the reference
 * it is tested against.
 */
import type { LeaderboardRow } from '@shared/trust';
import type { Receipt } from '@shared/trust';

interface Row {
  provider: string;
  flops: number;
  units: number;
  requesters: Set<string>;
  lastCreditedAt: number;
}

/** Before `b` when more credit, then by id (the reference order). */
const before = (a: Row, b: Row) => a.flops > b.flops || (a.flops === b.flops && a.provider < b.provider);

export class RankedBoard {
  private readonly rows = new Map<string, Row>();
  /** tops[m - 1]: the best `keep` rows with at least m distinct requesters, best first. */
  private readonly tops: Row[][];
  /** Entries visited while ranking, for tests that bound the cost per receipt (SPEC HTTP13). */
  work = 0;

  constructor(
    private readonly keep: number,
    private readonly maxMin: number,
  ) {
    this.tops = Array.from({ length: maxMin }, () => []);
  }

  get providers(): number {
    return this.rows.size;
  }

  add(r: Pick<Receipt, 'provider' | 'requester' | 'flops' | 'issuedAt'>): void {
    let row = this.rows.get(r.provider);
    if (!row) {
      row = { provider: r.provider, flops: 0, units: 0, requesters: new Set(), lastCreditedAt: 0 };
      this.rows.set(r.provider, row);
    }
    row.flops += r.flops;
    row.units++;
    row.requesters.add(r.requester);
    row.lastCreditedAt = Math.max(row.lastCreditedAt, r.issuedAt);
    const lists = Math.min(row.requesters.size, this.maxMin);
    for (let m = 0; m < lists; m++) this.place(this.tops[m]!, row);
  }

  /** The best `limit` (≤ keep) rows with at least `minRequesters` (1..maxMin) distinct requesters. */
  top(limit: number, minRequesters: number): LeaderboardRow[] {
    const list = this.tops[minRequesters - 1] ?? [];
    return list.slice(0, limit).map((row) => ({
      provider: row.provider,
      flops: row.flops,
      units: row.units,
      requesters: row.requesters.size,
      lastCreditedAt: row.lastCreditedAt,
    }));
  }

  /** Moves `row` up to where its new credit ranks it, entering the list if it now beats the last. */
  private place(list: Row[], row: Row): void {
    let at = list.indexOf(row);
    this.work += at < 0 ? list.length : at + 1;
    if (at < 0) {
      if (list.length >= this.keep && !before(row, list[list.length - 1]!)) return;
      at = list.length;
      list.push(row);
    }
    while (at > 0 && before(row, list[at - 1]!)) {
      this.work++;
      list[at] = list[at - 1]!;
      at--;
    }
    list[at] = row;
    if (list.length > this.keep) list.pop();
  }
}
