/**
 * Credits per provider key, from receipts (the server's log or a provider's export).
 * Credit is FLOPs of accepted work. `requesters` counts distinct requester keys:
 * receipts only attest what a requester claims, so a key credited by a single
 * requester may be that requester crediting itself (SPEC TRUST-L2).
 */
import type { PeerId } from '../identity';
import type { Receipt } from './receipts';

export interface LeaderboardRow {
  provider: PeerId;
  flops: number;
  units: number;
  requesters: number;
  lastCreditedAt: number;
}

export class Leaderboard {
  private readonly rows = new Map<
    PeerId,
    { flops: number; units: number; requesters: Set<PeerId>; lastCreditedAt: number }
  >();

  /** Add an already-verified receipt (e.g. each entry the ReceiptLog appended). */
  add(r: Pick<Receipt, 'provider' | 'requester' | 'flops' | 'issuedAt'>): void {
    let row = this.rows.get(r.provider);
    if (!row) {
      row = { flops: 0, units: 0, requesters: new Set(), lastCreditedAt: 0 };
      this.rows.set(r.provider, row);
    }
    row.flops += r.flops;
    row.units++;
    row.requesters.add(r.requester);
    row.lastCreditedAt = Math.max(row.lastCreditedAt, r.issuedAt);
  }

  /** Top `limit` providers by credit, ties broken by peer id for a stable order. */
  top(limit = 100, minRequesters = 1): LeaderboardRow[] {
    return [...this.rows.entries()]
      .filter(([, r]) => r.requesters.size >= minRequesters)
      .map(([provider, r]) => ({
        provider,
        flops: r.flops,
        units: r.units,
        requesters: r.requesters.size,
        lastCreditedAt: r.lastCreditedAt,
      }))
      .sort((a, b) => b.flops - a.flops || (a.provider < b.provider ? -1 : 1))
      .slice(0, limit);
  }
}

export function leaderboardFrom(
  receipts: Iterable<Pick<Receipt, 'provider' | 'requester' | 'flops' | 'issuedAt'>>,
): Leaderboard {
  const board = new Leaderboard();
  for (const r of receipts) board.add(r);
  return board;
}
