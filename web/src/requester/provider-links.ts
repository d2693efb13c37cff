/**
 * The requester's links to the providers the server pairs with one job: a
 * WebRTC session per provider (PeerSessions), what the runner remembers of
 * each (its adapter class, claimed compute times), and the reconnect policy:
 * a link that dies while the server still pairs us is tried again a few
 * times with growing pauses, then the provider is handed back so the
 * matchmaker can assign another.
 */
import { providerAdapterClass } from '@shared/jobs';
import {
  encodePeerMessage,
  PeerStream,
  type Capabilities,
  type JobNeeds,
  type PeerHeader,
  type ServerMessageOf,
} from '@shared/protocol';
import { MAX_PEER_RECONNECTS, PEER_RECONNECT_DELAY_MS } from '../core/constants';
import type { LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import { PeerSessions, type PeerSession } from '../net/peer-sessions';

export interface ProviderLink {
  session: PeerSession;
  /** SPEC TRUST-C1/C2: the class its results are compared under. */
  adapterClass: string;
  /** Compute time the provider claimed per unit, for its receipt and mean. */
  computeMs: Map<number, number>;
  computeMsTotal: number;
  /** Reconnects tried since this provider last had a unit accepted. */
  reconnects: number;
  /** The server's session and network for this pairing: signed results and receipts bind them (SPEC BIND1, BIND2). */
  pairing?: Pairing;
}

export interface Pairing {
  session: string;
  network: string;
}

export interface ProviderLinksDeps {
  jobId: string;
  signaling: SignalingPort;
  createPeer: PeerFactory;
  extension?: LinkExtension;
  /** A new session to a provider is being opened (first pairing or a reconnect). */
  onConnecting(peerId: string): void;
  onOpen(link: ProviderLink): void;
  onMessage(link: ProviderLink, bytes: Uint8Array): void;
  /** The current link to a provider ended (closed, failed, or never opened). */
  onLost(link: ProviderLink, reason: string): void;
  /** Whether the job still wants this provider (not stopped, not rejected). */
  wants(peerId: string): boolean;
}

export class ProviderLinks {
  private readonly sessions: PeerSessions;
  private readonly links = new Map<string, ProviderLink>();
  /** Providers the server currently pairs with this job. */
  private readonly paired = new Set<string>();
  /** job-open was sent: only then is there a job for job-close to close (defect 8). */
  private opened = false;

  constructor(private readonly deps: ProviderLinksDeps) {
    const current = (session: PeerSession) => {
      const link = this.links.get(session.peerId);
      return link?.session === session ? link : undefined;
    };
    this.sessions = new PeerSessions({
      signaling: deps.signaling,
      createPeer: deps.createPeer,
      initiator: true,
      extension: deps.extension,
      handlers: {
        onOpen: (session) => {
          const link = current(session);
          if (link) deps.onOpen(link);
        },
        onMessage: (session, _stream, bytes) => {
          const link = current(session);
          if (link) deps.onMessage(link, bytes);
        },
        onClose: (session, reason) => {
          const link = current(session);
          if (!link) return;
          deps.onLost(link, reason);
          this.reconnectLater(link);
        },
      },
    });
  }

  get(peerId: string): ProviderLink | undefined {
    return this.links.get(peerId);
  }

  all(): ProviderLink[] {
    return [...this.links.values()];
  }

  isLive(link: ProviderLink): boolean {
    return this.sessions.isCurrent(link.session);
  }

  /**
   * Follows the server's pairing of this job: `welcome` after every (re)connect
   * (the server forgot the job: open it again), each `matched` provider linked
   * unless `admit` says no (then it is handed back), unmatched and signals
   * routed. Returns the unsubscribe.
   */
  follow(events: { welcome(): void; admit(m: ServerMessageOf<'matched'>): boolean }): () => void {
    const { signaling, jobId } = this.deps;
    const offs = [
      signaling.on('welcome', () => events.welcome()),
      signaling.on('matched', (m) => {
        if (m.jobId !== jobId) return;
        if (!events.admit(m)) return this.release(m.peerId, 'excluded');
        this.matched(m.peerId, m.capabilities, { session: m.session, network: m.network });
      }),
      signaling.on('unmatched', (m) => m.jobId === jobId && this.unmatched(m.peerId, m.reason)),
      signaling.on('signal', (s) => s.jobId === jobId && this.signal(s.from, s.payload)),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Opens the job on the server (again after a reconnect) with what it needs; the server pairs providers with it. */
  openJob(needs: JobNeeds): void {
    this.opened = true;
    this.deps.signaling.send({ type: 'job-open', jobId: this.deps.jobId, needs });
  }

  /** Closes the job on the server, if it was opened. */
  closeJob(): void {
    if (!this.opened) return;
    this.opened = false;
    this.deps.signaling.send({ type: 'job-close', jobId: this.deps.jobId });
  }

  /** The server paired `peerId` with the job: connect, unless a live link is there already. */
  matched(peerId: string, capabilities: Capabilities | undefined, pairing: Pairing | undefined): void {
    this.paired.add(peerId);
    const link = this.links.get(peerId);
    // Matched again (e.g. after a server restart) while our data channel still works: keep it.
    if (link && this.isLive(link)) {
      if (capabilities) link.adapterClass = providerAdapterClass(capabilities);
      if (pairing) link.pairing = pairing;
      return;
    }
    this.links.set(peerId, {
      session: this.sessions.open(this.deps.jobId, peerId),
      adapterClass: capabilities ? providerAdapterClass(capabilities) : (link?.adapterClass ?? 'unknown'),
      computeMs: new Map(),
      computeMsTotal: link?.computeMsTotal ?? 0,
      reconnects: link?.reconnects ?? 0,
      pairing: pairing ?? link?.pairing,
    });
    this.deps.onConnecting(peerId);
  }

  /** The server no longer pairs `peerId` with the job (or we gave it back). */
  unmatched(peerId: string, reason: string): void {
    this.paired.delete(peerId);
    this.sessions.close(this.sessions.get(this.deps.jobId, peerId), reason);
  }

  /** Hands `peerId` back to the matchmaker and closes its link. */
  release(peerId: string, reason: string): void {
    this.deps.signaling.send({ type: 'release', jobId: this.deps.jobId, peerId });
    this.unmatched(peerId, reason);
  }

  signal(from: string, payload: Parameters<PeerSessions['signal']>[2]): void {
    this.sessions.signal(this.deps.jobId, from, payload);
  }

  send(link: ProviderLink, header: PeerHeader, body?: Uint8Array, stream: number = PeerStream.control): void {
    this.sessions.send(link.session, stream, encodePeerMessage(header, body));
  }

  /** Sends to `peerId`'s link if it has one; says whether it did. */
  sendTo(peerId: string, header: PeerHeader, body?: Uint8Array, stream?: number): boolean {
    const link = this.links.get(peerId);
    if (link) this.send(link, header, body, stream);
    return link !== undefined;
  }

  /** Sends bytes another job kind framed itself (a Train job's messages on PeerStream.train). */
  sendBytes(link: ProviderLink, bytes: Uint8Array, stream: number): void {
    this.sessions.send(link.session, stream, bytes);
  }

  /** Sends `header` to every provider whose link is up. */
  broadcast(header: PeerHeader): void {
    for (const link of this.links.values()) if (this.isLive(link)) this.send(link, header);
  }

  /**
   * A caught provider: reported to the server (on the keyed network, where
   * reports count), handed back and its link closed; it is never reconnected.
   */
  reject(peerId: string, reason: string, report: boolean): void {
    if (report)
      this.deps.signaling.send({
        type: 'report',
        jobId: this.deps.jobId,
        peerId,
        verdict: 'rejected',
        reason: reason.slice(0, 200),
      });
    this.release(peerId, reason);
  }

  closeAll(reason: string): void {
    this.paired.clear();
    this.sessions.closeAll(reason);
  }

  private reconnectLater(link: ProviderLink): void {
    const { peerId } = link.session;
    if (!this.paired.has(peerId) || !this.deps.wants(peerId)) return;
    if (link.reconnects >= MAX_PEER_RECONNECTS) {
      this.paired.delete(peerId);
      this.deps.signaling.send({ type: 'release', jobId: this.deps.jobId, peerId });
      return;
    }
    link.reconnects++;
    setTimeout(() => {
      if (this.paired.has(peerId) && this.links.get(peerId) === link && this.deps.wants(peerId))
        this.matched(peerId, undefined, undefined);
    }, PEER_RECONNECT_DELAY_MS * link.reconnects);
  }
}
