/**
 * This instance's replica of the shared state (SPEC SCALE1–SCALE5): changes go
 * out through publish() and come back through apply(), in log order, on every
 * instance; apply() drives the matchmaker and the ledger and delivers what they decide.
 */
import { CloseCode, type Role } from '@shared/protocol';
import type { ReplicaSnapshot } from '../replica-snapshot';
import type { SharedOp, SharedOpInput } from '../shared-state';
import { peerKey, splitPeerKey, unavailable } from './connection';
import type { HubContext } from './context';
import { deliverMatchEvents } from './match-events';

export class Replica {
  /** Leaves that could not be published while shared state was down: published when it returns. */
  private readonly pendingLeaves: SharedOpInput[] = [];

  constructor(private readonly ctx: HubContext) {}

  /** Publishes a change; the matchmaker sees it when the shared log hands it back (apply). */
  publish(op: SharedOpInput): Promise<void> | void {
    if (!this.ctx.shared.health().up) throw unavailable('cannot change shared state');
    return this.ctx.shared.publish(op);
  }

  /** A leave is never lost: while shared state is down it waits, else the others would keep a ghost. */
  publishLeave(op: SharedOpInput): void {
    const retryLater = () => {
      this.pendingLeaves.push(op);
    };
    if (!this.ctx.shared.health().up) return retryLater();
    try {
      const pending = this.ctx.shared.publish(op);
      if (pending) pending.catch(retryLater);
    } catch {
      retryLater();
    }
  }

  /** Publishes the leaves that waited for shared state, once it is back. */
  retryLeaves(): void {
    if (this.pendingLeaves.length && this.ctx.shared.health().up)
      for (const leave of this.pendingLeaves.splice(0)) this.publishLeave(leave);
  }

  /** Applies one op of the shared log to this replica; every instance runs the same ops in the same order. */
  apply(op: SharedOp): void {
    const { ctx } = this;
    ctx.routes.value++;
    const mm = ctx.matchmaker;
    switch (op.op) {
      case 'join': {
        const key = peerKey(op.role, op.peer);
        const before = ctx.owners.get(key);
        ctx.owners.set(key, { instance: op.instance, conn: op.conn });
        // The key moved: drop what the older connection held, as if it had left first (SPEC SCALE4).
        if (before && (before.instance !== op.instance || before.conn !== op.conn))
          this.removePeer(op.role, op.peer, op);
        const local = ctx.byPeer.get(key);
        if (local && op.instance !== ctx.shared.instance)
          ctx.wire.closeConn(local, CloseCode.replaced, 'replaced by a newer connection with the same key');
        return;
      }
      case 'leave': {
        const key = peerKey(op.role, op.peer);
        const owner = ctx.owners.get(key);
        if (!owner || owner.instance !== op.instance || owner.conn !== op.conn) return;
        ctx.owners.delete(key);
        return this.removePeer(op.role, op.peer, op);
      }
      case 'instance-gone':
        return this.forgetInstance(op.gone, op);
      case 'credit':
        return ctx.ledger.applyCredit(op.entry);
    }
    // A peer's changes count only from the instance holding it now: a late op from an instance declared gone
    // (or from a connection since replaced) would otherwise leave a ghost in every replica.
    const [role, peer] =
      op.op === 'announce' || op.op === 'status' || op.op === 'name'
        ? ['provider', op.peer]
        : ['requester', op.requester];
    const owner = ctx.owners.get(peerKey(role as Role, peer));
    if (owner?.instance !== op.instance) return;
    switch (op.op) {
      case 'announce':
        return deliverMatchEvents(ctx, mm.upsertProvider(op.peer, op.capabilities, op.slots, op.status), op);
      case 'status':
        return deliverMatchEvents(ctx, mm.setProviderStatus(op.peer, op.busy, op.paused), op);
      case 'name':
        return ctx.ledger.setName(op.peer, op.name);
      case 'job-open':
        return deliverMatchEvents(ctx, mm.openJob(op.requester, op.jobId, op.needs), op);
      case 'job-close':
        return deliverMatchEvents(ctx, mm.closeJob(op.requester, op.jobId) ?? [], op);
      case 'release':
        return deliverMatchEvents(ctx, mm.release(op.requester, op.jobId, op.provider) ?? [], op);
      case 'report': {
        if (!mm.hasServed(op.requester, op.jobId, op.provider)) return;
        // Counted before the matchmaker re-runs, so the re-match already sees the lower priority.
        const counted = ctx.ledger.report(op.provider, op.requester);
        if (op.instance === ctx.shared.instance)
          ctx.options.metrics.inc('signaling_reports_total', { counted: String(counted) });
        return deliverMatchEvents(ctx, mm.report(op.requester, op.jobId, op.provider) ?? [], op);
      }
    }
  }

  private removePeer(role: Role, peer: string, op: SharedOp): void {
    const mm = this.ctx.matchmaker;
    deliverMatchEvents(this.ctx, role === 'provider' ? mm.removeProvider(peer) : mm.removeRequester(peer), op);
  }

  /**
   * Every peer an instance held has left (SPEC SCALE5). When the gone instance is
   * this one (it lost shared state for longer than its liveness lasts), the
   * others have dropped its peers: they must reconnect and announce again.
   */
  private forgetInstance(gone: string, op: SharedOp): void {
    const { ctx } = this;
    for (const [key, owner] of [...ctx.owners]) {
      if (owner.instance !== gone) continue;
      ctx.owners.delete(key);
      const { role, peer } = splitPeerKey(key);
      this.removePeer(role, peer, op);
    }
    if (gone !== ctx.shared.instance) return;
    ctx.options.log.warn('declared-gone', { instance: gone });
    for (const conn of [...ctx.conns])
      if (conn.peerId) ctx.wire.closeConn(conn, CloseCode.goingAway, 'this server lost shared state; reconnect');
  }

  /** This replica after the last op applied (SPEC SCALE7): what a new instance loads instead of the ops before it. */
  snapshot(): ReplicaSnapshot {
    const { ctx } = this;
    return {
      v: 1,
      owners: [...ctx.owners].map(([key, owner]) => [key, owner.instance, owner.conn]),
      matchmaker: ctx.matchmaker.snapshot(),
      ledger: ctx.ledger.snapshot(),
    };
  }

  /** Loads a snapshot another replica took; called once, before any op is applied here. */
  async restore(snapshot: ReplicaSnapshot): Promise<void> {
    const { ctx } = this;
    ctx.owners.clear();
    for (const [key, instance, conn] of snapshot.owners) ctx.owners.set(key, { instance, conn });
    ctx.matchmaker.restore(snapshot.matchmaker);
    await ctx.ledger.restore(snapshot.ledger);
  }

  /** Other instances that hold peers here: the shared state watches their liveness. */
  instancesHolding(): Set<string> {
    const out = new Set<string>();
    for (const owner of this.ctx.owners.values())
      if (owner.instance !== this.ctx.shared.instance) out.add(owner.instance);
    return out;
  }
}
