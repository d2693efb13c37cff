/**
 * Requests that change matching: a provider's announce and status, a
 * requester's job-open, job-close and release. Each is checked against this
 * replica and its limits (SPEC RATE5, RATE7), then published as an op. With
 * shared state, RATE7 counts every instance's requesters from the address (RATE8).
 */
import type { ClientMessageOf } from '@shared/protocol';
import { ProtocolError } from '../errors';
import { SharedStateUnavailable, type SharedQuotas } from '../shared-state';
import { unavailable, type Connection } from './connection';
import type { HubContext } from './context';
import type { Replica } from './replica';

export class MatchRequests {
  constructor(
    private readonly ctx: HubContext,
    private readonly replica: Replica,
    /** Per-IP quotas over every instance; null in one process. */
    private readonly quotas: SharedQuotas | null,
  ) {}

  announce(conn: Connection, peerId: string, message: ClientMessageOf<'announce'>): Promise<void> | void {
    return this.replica.publish({
      op: 'announce',
      peer: peerId,
      capabilities: message.capabilities,
      slots: message.slots,
      ...(conn.status ? { status: conn.status } : {}),
    });
  }

  status(conn: Connection, peerId: string, message: ClientMessageOf<'status'>): Promise<void> | void {
    conn.status = { busy: message.busy, paused: message.paused };
    return this.replica.publish({ op: 'status', peer: peerId, busy: message.busy, paused: message.paused });
  }

  async openJob(conn: Connection, peerId: string, message: ClientMessageOf<'job-open'>): Promise<void> {
    const mm = this.ctx.matchmaker;
    const { limits, metrics } = this.ctx.options;
    const isNew = !mm.hasJob(peerId, message.jobId);
    if (isNew && mm.jobsOfRequester(peerId) >= limits.maxJobsPerRequester) {
      throw new ProtocolError('rate-limited', `at most ${limits.maxJobsPerRequester} open jobs per requester`);
    }
    const tooMany = () => {
      metrics.inc('signaling_rate_limited_total', { scope: 'jobs-ip' });
      return new ProtocolError('rate-limited', `at most ${limits.maxJobsPerIp} open jobs per IP address`);
    };
    if (isNew && this.jobsOfIp(conn.ip) >= limits.maxJobsPerIp) throw tooMany();
    if (isNew && this.quotas) {
      let fits: boolean;
      try {
        fits = await this.quotas.admitJob(conn.ip, this.jobsOfIp(conn.ip) + 1);
      } catch (error) {
        if (error instanceof SharedStateUnavailable) throw unavailable('cannot open jobs');
        throw error;
      }
      if (!fits) throw tooMany();
    }
    return this.replica.publish({ op: 'job-open', requester: peerId, jobId: message.jobId, needs: message.needs });
  }

  /** Writes the address's open-job count over this instance's requesters after it changed (RATE8). */
  jobsChanged(ip: string): void {
    this.quotas?.jobsHolding(ip, this.jobsOfIp(ip));
  }

  closeJob(conn: Connection, peerId: string, message: ClientMessageOf<'job-close'>): Promise<void> | void {
    if (!this.ctx.matchmaker.hasJob(peerId, message.jobId))
      return this.ctx.wire.sendError(conn, 'unknown-job', `no open job ${message.jobId}`);
    return this.replica.publish({ op: 'job-close', requester: peerId, jobId: message.jobId });
  }

  release(conn: Connection, peerId: string, message: ClientMessageOf<'release'>): Promise<void> | void {
    if (!this.ctx.matchmaker.isPaired(peerId, message.jobId, message.peerId))
      return this.ctx.wire.sendError(conn, 'not-paired', `${message.peerId} is not matched to job ${message.jobId}`);
    return this.replica.publish({
      op: 'release',
      requester: peerId,
      jobId: message.jobId,
      provider: message.peerId,
    });
  }

  jobsOfIp(ip: string): number {
    let n = 0;
    for (const conn of this.ctx.requestersByIp.get(ip) ?? [])
      if (conn.peerId) n += this.ctx.matchmaker.jobsOfRequester(conn.peerId);
    return n;
  }
}
