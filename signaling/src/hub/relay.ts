/**
 * The signal relay: a signal goes only to a current pairing (SPEC RELAY1) or
 * between two providers assigned to the same job (RELAY3), to the peer's socket
 * here or through shared state to the instance that holds it (SCALE2).
 */
import { spliceSignalFrame, type ClientMessageOf, type Role, type ServerMessage } from '@shared/protocol';
import type { Counter } from '../metrics';
import { SharedStateUnavailable, type RelayedFrame } from '../shared-state';
import { peerKey, short, splitPeerKey, unavailable, type Connection } from './connection';
import type { HubContext } from './context';

export class Relay {
  private readonly relayedCounter: Counter;

  constructor(private readonly ctx: HubContext) {
    this.relayedCounter = ctx.options.metrics.counter('signaling_signals_relayed_total');
  }

  /**
   * Forwards a signal only within a current pairing (SPEC RELAY1), or between
   * two providers both assigned to the same job right now (SPEC RELAY3). `from`
   * is always the sender's own key. To a peer held here, the sender's `text` is
   * forwarded with `to` swapped for `from` (RELAY4), not serialised again.
   */
  relay(conn: Connection, peerId: string, role: Role, message: ClientMessageOf<'signal'>, text?: string): void {
    const { ctx } = this;
    // The same route as the last signal, and nothing changed since: no lookups (the rounds shape's common case).
    const route = conn.route;
    if (
      route !== undefined &&
      route.epoch === ctx.routes.value &&
      route.to === message.to &&
      route.jobId === message.jobId
    ) {
      this.forward(route.target, peerId, message, text);
      this.relayedCounter.inc();
      return;
    }
    let paired =
      role === 'requester'
        ? ctx.matchmaker.isPaired(peerId, message.jobId, message.to)
        : ctx.matchmaker.isPaired(message.to, message.jobId, peerId);
    let targetKey = peerKey(role === 'requester' ? 'provider' : 'requester', message.to);
    if (
      role === 'provider' &&
      (!paired || !ctx.owners.has(targetKey)) &&
      message.to !== peerId &&
      this.coAssigned(peerId, message.to, message.jobId)
    ) {
      paired = true;
      targetKey = peerKey('provider', message.to);
    }
    const target = ctx.byPeer.get(targetKey);
    const owner = ctx.owners.get(targetKey);
    if (!paired || (!target && !owner))
      return ctx.wire.sendError(conn, 'not-paired', `not paired with ${short(message.to)} for job ${message.jobId}`);
    if (target) {
      conn.route = { to: message.to, jobId: message.jobId, target, epoch: ctx.routes.value };
      this.forward(target, peerId, message, text);
    } else {
      const frame: ServerMessage = { type: 'signal', from: peerId, jobId: message.jobId, payload: message.payload };
      // Held by another instance (SPEC SCALE2): its replica has the same pairing, so it forwards without asking.
      const { role: targetRole, peer } = splitPeerKey(targetKey);
      try {
        ctx.shared.relay(owner!.instance, { role: targetRole, peer, frame });
      } catch (error) {
        if (error instanceof SharedStateUnavailable) throw unavailable('cannot reach peers on other servers');
        throw error;
      }
    }
    this.relayedCounter.inc();
  }

  /** To a peer held here: the sender's text with `to` swapped for `from` when it can be (RELAY4), else serialised. */
  private forward(target: Connection, from: string, message: ClientMessageOf<'signal'>, text?: string): void {
    const spliced = text === undefined ? null : spliceSignalFrame(text, message.to, from);
    if (spliced !== null) this.ctx.wire.sendText(target, spliced, 'signal');
    else this.ctx.wire.send(target, { type: 'signal', from, jobId: message.jobId, payload: message.payload });
  }

  /** A frame another instance relayed to a peer it believes this one holds. */
  deliverRelayed(relayed: RelayedFrame): void {
    const target = this.ctx.byPeer.get(peerKey(relayed.role, relayed.peer));
    if (target) this.ctx.wire.send(target, relayed.frame);
  }

  /**
   * Whether both providers are assigned right now to the same open job with
   * this id. Job ids are scoped per requester, so it must be one requester's
   * job: the matchmaker's job keys (requester + id) are compared, not the ids.
   */
  private coAssigned(a: string, b: string, jobId: string): boolean {
    const ofB = new Set(this.ctx.matchmaker.jobsOfProvider(b));
    return this.ctx.matchmaker.jobsOfProvider(a).some((key) => ofB.has(key) && key.endsWith(` ${jobId}`));
  }
}
