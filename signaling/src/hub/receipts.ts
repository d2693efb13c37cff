/** Receipts and reports from requesters: budgets per key, per IP and per server, then the ledger (SPEC CREDIT*, REP*). */
import type { ClientMessageOf } from '@shared/protocol';
import { ProtocolError } from '../errors';
import { KeyedBuckets, TokenBucket } from '../rate-limit';
import type { SharedQuotas } from '../shared-state';
import { short, type Connection } from './connection';
import type { HubContext } from './context';
import type { Replica } from './replica';

export class Receipts {
  /** Receipt budgets per requester key, per IP and for the whole server (SPEC CREDIT7, CREDIT13). */
  private readonly byKey: KeyedBuckets;
  private readonly byIp: KeyedBuckets;
  private readonly server: TokenBucket;

  constructor(
    private readonly ctx: HubContext,
    private readonly replica: Replica,
    /** The IP budget over every instance (SPEC RATE8); null in one process, where `byIp` is the network's. */
    private readonly quotas: SharedQuotas | null,
  ) {
    const { limits, now } = ctx.options;
    this.byKey = new KeyedBuckets(limits.receiptBurst, limits.receiptsPerSecond, now);
    this.byIp = new KeyedBuckets(limits.receiptIpBurst, limits.receiptsPerIpPerSecond, now);
    this.server = new TokenBucket(limits.receiptServerBurst, limits.receiptsPerServerPerSecond, now);
  }

  /** Logs a batch of receipts signed by this requester and answers with receipts-ack (SPEC CREDIT1–CREDIT5, CREDIT7). */
  async onReceipts(conn: Connection, peerId: string, message: ClientMessageOf<'receipts'>): Promise<void> {
    const { metrics, limits, log } = this.ctx.options;
    const n = message.receipts.length;
    const ipWhy = `${limits.receiptsPerIpPerSecond}/s per IP`;
    // Every budget is checked before any is charged: a batch refused by one costs the others nothing.
    const budgets = [
      { bucket: this.byKey.get(peerId), scope: 'receipts', why: `${limits.receiptsPerSecond}/s per key` },
      ...(this.quotas ? [] : [{ bucket: this.byIp.get(conn.ip), scope: 'receipts-ip', why: ipWhy }]),
      { bucket: this.server, scope: 'receipts-server', why: 'the server is at its verification budget' },
    ];
    const refuse = (scope: string, why: string) => {
      metrics.inc('signaling_rate_limited_total', { scope });
      return new ProtocolError('rate-limited', `too many receipts (${why}); re-send later`);
    };
    for (const { bucket, scope, why } of budgets) if (!bucket.has(n)) throw refuse(scope, why);
    // Shared, the IP's budget is taken last, all or none, in one step on Redis; the local ones only refill meanwhile.
    if (this.quotas && !(await this.quotas.takeReceipts(conn.ip, n))) throw refuse('receipts-ip', ipWhy);
    for (const { bucket } of budgets) bucket.take(n);
    const result = await this.ctx.ledger.submit(peerId, message.receipts);
    if (result.accepted) metrics.inc('signaling_receipts_accepted_total', {}, result.accepted);
    for (const r of result.rejected) metrics.inc('signaling_receipts_rejected_total', { reason: r.reason });
    if (result.rejected.length)
      log.info('receipts-rejected', {
        conn: conn.id,
        peer: short(peerId),
        rejected: result.rejected.length,
        first: result.rejected[0]!.reason,
      });
    this.ctx.wire.send(conn, {
      type: 'receipts-ack',
      accepted: result.accepted,
      rejected: result.rejected,
      head: result.head,
    });
  }

  /** A requester caught a provider: out of this job, lower priority elsewhere (SPEC REP1, REP2). */
  onReport(conn: Connection, peerId: string, message: ClientMessageOf<'report'>): Promise<void> | void {
    if (!this.ctx.matchmaker.hasServed(peerId, message.jobId, message.peerId)) {
      return this.ctx.wire.sendError(
        conn,
        'not-paired',
        `${short(message.peerId)} has not served job ${message.jobId}`,
      );
    }
    this.ctx.options.log.info('provider-reported', {
      requester: short(peerId),
      provider: short(message.peerId),
      job: message.jobId,
      verdict: message.verdict,
      reason: message.reason,
    });
    return this.replica.publish({ op: 'report', requester: peerId, jobId: message.jobId, provider: message.peerId });
  }

  /** Forgets budgets that refilled, so the maps hold only keys and IPs that spent recently. */
  sweep(): void {
    this.byKey.sweep();
    this.byIp.sweep();
  }
}
