/**
 * Delivers what the matchmaker decided: `matched` and `unmatched` frames to the
 * peers this instance holds, and the pairing's start and end to the ledger,
 * which bounds what receipts may later credit (SPEC CREDIT10, BIND2).
 */
import { createHash } from 'node:crypto';
import type { MatchEvent } from '../matchmaker';
import type { SharedOp } from '../shared-state';
import { peerKey, short } from './connection';
import type { HubContext } from './context';

/** The pairing's session id (SPEC BIND2): the same on every instance that applies the op that made it. */
const sessionOf = (nonce: string, index: number) =>
  createHash('sha256').update(`${nonce} ${index}`).digest('base64url').slice(0, 22);

export function deliverMatchEvents(ctx: HubContext, events: MatchEvent[], op: SharedOp): void {
  const { metrics } = ctx.options;
  const { wire, ledger, matchmaker } = ctx;
  for (const [index, event] of events.entries()) {
    const requester = ctx.byPeer.get(peerKey('requester', event.requester));
    const provider = ctx.byPeer.get(peerKey('provider', event.providerId));
    if (event.kind === 'matched') {
      metrics.inc('signaling_matches_total');
      const capabilities = matchmaker.capabilitiesOf(event.providerId);
      // What a receipt may later credit (SPEC CREDIT10): who, which job, which backend, how many units.
      ledger.pairings.start(
        event.requester,
        event.jobId,
        event.providerId,
        capabilities?.backend ?? 'wasm',
        matchmaker.needsOf(event.requester, event.jobId)?.units ?? 0,
        op.at,
      );
      // One id per pairing, the same on both sides: results signed in it cannot be replayed into another (SPEC BIND2).
      const pairing = { session: sessionOf(op.nonce, index), network: ledger.network };
      if (requester)
        wire.send(requester, {
          type: 'matched',
          jobId: event.jobId,
          peerId: event.providerId,
          role: 'provider',
          capabilities,
          ...pairing,
        });
      if (provider)
        wire.send(provider, {
          type: 'matched',
          jobId: event.jobId,
          peerId: event.requester,
          role: 'requester',
          ...pairing,
        });
    } else {
      metrics.inc('signaling_unmatches_total');
      ledger.pairings.end(event.requester, event.jobId, event.providerId, op.at);
      if (requester)
        wire.send(requester, {
          type: 'unmatched',
          jobId: event.jobId,
          peerId: event.providerId,
          reason: event.reason,
        });
      if (provider)
        wire.send(provider, { type: 'unmatched', jobId: event.jobId, peerId: event.requester, reason: event.reason });
    }
    ctx.options.log.debug(event.kind, {
      job: event.jobId,
      requester: short(event.requester),
      provider: short(event.providerId),
    });
  }
}
