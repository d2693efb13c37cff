/**
 * Who may open a connection (SPEC RATE1, RATE2, RATE8): this instance's own
 * per-IP buckets first, then, with shared state, the network's quotas over
 * every instance, checked before the challenge is sent.
 */
import { CloseCode } from '@shared/protocol';
import { ProtocolError } from '../errors';
import { IpAdmission } from '../rate-limit';
import { SharedStateUnavailable, type SharedQuotas } from '../shared-state';
import type { SignalingSocket } from '../socket';
import { unavailable, type Connection } from './connection';
import type { HubContext } from './context';

const refusal = (reason: 'rate' | 'concurrent') =>
  reason === 'rate' ? 'too many new connections from this address' : 'too many open connections from this address';

export class Admission {
  private readonly local: IpAdmission;

  constructor(
    private readonly ctx: HubContext,
    /** Per-IP quotas over every instance; null in one process, where `local` is the network's. */
    readonly quotas: SharedQuotas | null,
  ) {
    this.local = new IpAdmission(ctx.options.limits, ctx.options.now);
  }

  /** This instance's buckets; a refused socket is told why and closed here. */
  admitHere(socket: SignalingSocket): boolean {
    const { metrics, log } = this.ctx.options;
    const admission = this.local.admit(socket.remoteAddress);
    if (admission.ok) return true;
    metrics.inc('signaling_rate_limited_total', { scope: admission.reason === 'rate' ? 'ip-rate' : 'ip-concurrent' });
    log.warn('connection-refused', { ip: socket.remoteAddress, reason: admission.reason });
    this.ctx.wire.sendRaw(socket, { type: 'error', code: 'rate-limited', message: refusal(admission.reason) });
    socket.close(CloseCode.policy, 'rate limited');
    metrics.inc('signaling_closes_total', { code: String(CloseCode.policy) });
    return false;
  }

  /** The network's quotas (RATE8): resolves when admitted; rejects with the error that refuses the connection. */
  async admitShared(conn: Connection, quotas: SharedQuotas): Promise<void> {
    const { metrics, log } = this.ctx.options;
    let verdict: Awaited<ReturnType<SharedQuotas['admitConnection']>>;
    try {
      verdict = await quotas.admitConnection(conn.ip, this.local.openOf(conn.ip));
    } catch (error) {
      if (error instanceof SharedStateUnavailable)
        throw unavailable('cannot admit new connections', CloseCode.tryAgainLater);
      throw error;
    }
    if (conn.closed || verdict === 'ok') return;
    metrics.inc('signaling_rate_limited_total', { scope: verdict === 'rate' ? 'ip-rate' : 'ip-concurrent' });
    log.warn('connection-refused', { ip: conn.ip, reason: verdict, across: 'instances' });
    throw new ProtocolError('rate-limited', refusal(verdict), CloseCode.policy);
  }

  /** An admitted connection ended. `stopping`: the instance's counts lapse with its liveness, nothing to write. */
  release(ip: string, stopping: boolean): void {
    this.local.release(ip);
    if (!stopping) this.quotas?.holding(ip, this.local.openOf(ip));
  }

  sweep(jobsHere: (ip: string) => number): void {
    this.local.sweep();
    this.quotas?.flush((ip) => this.local.openOf(ip), jobsHere);
  }
}
