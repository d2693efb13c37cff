/**
 * Provider ↔ provider links between co-providers of a job (signaling SPEC RELAY3), for forwarding weights
 * (PULSE, web/src/weights) and new versions of a training or RL job (protocol/relay.ts). The ProviderNode
 * answers only its job's requester's signals; every other signal for a job we serve is a co-provider's
 * and lands here. Links close when we leave the job.
 */
import type { SignalPayload } from '@shared/protocol';
import type { MessageLink, PeerFactory, PeerHandle, SignalingPort } from '../core/ports';

export interface CoLinkDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  /** Every message of a co-provider link, on whichever stream it came. */
  onMessage(peerId: string, jobId: string, stream: number, bytes: Uint8Array): void;
  onClose?(peerId: string, jobId: string): void;
}

/** A link that cannot be opened: we do not serve the job (any more), or the connection failed. */
export class CoLinkError extends Error {
  override readonly name = 'CoLinkError';
}

interface CoLink {
  peer: PeerHandle;
  initiator: boolean;
  ready: Promise<MessageLink>;
  link?: MessageLink;
}

const key = (jobId: string, peerId: string) => `${jobId} ${peerId}`;

export class CoLinks {
  /** The requester of each job we serve, from the server's `matched`. */
  readonly requesters = new Map<string, string>();
  private readonly links = new Map<string, CoLink>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly deps: CoLinkDeps) {}

  start(): void {
    const { signaling } = this.deps;
    this.unsubscribe.push(
      signaling.on('matched', (m) => {
        if (m.role === 'requester') this.requesters.set(m.jobId, m.peerId);
      }),
      signaling.on('unmatched', (m) => {
        if (this.requesters.get(m.jobId) !== m.peerId) return;
        this.requesters.delete(m.jobId);
        for (const [k, link] of this.links) if (k.startsWith(`${m.jobId} `)) this.drop(k, link);
      }),
      signaling.on('signal', (s) => this.onSignal(s.jobId, s.from, s.payload)),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const [k, link] of this.links) this.drop(k, link);
  }

  /** A link to co-provider `peerId` of `jobId`, opened if needed; rejects if it cannot be opened. */
  async connect(jobId: string, peerId: string): Promise<MessageLink> {
    if (!this.requesters.has(jobId)) throw new CoLinkError(`not serving job ${jobId}`);
    const k = key(jobId, peerId);
    let entry = this.links.get(k);
    if (!entry) entry = this.open(jobId, peerId, true);
    return entry.ready;
  }

  private onSignal(jobId: string, from: string, payload: SignalPayload): void {
    // Our requester's signals are the ProviderNode's; a job we do not serve is nobody's.
    const requester = this.requesters.get(jobId);
    if (requester === undefined || requester === from) return;
    const k = key(jobId, from);
    let entry = this.links.get(k);
    // An offer always starts a new connection (data channels never renegotiate).
    if (payload.type === 'offer' && entry && (entry.link || entry.initiator)) {
      this.drop(k, entry);
      entry = undefined;
    }
    if (!entry) {
      if (payload.type !== 'offer') return;
      entry = this.open(jobId, from, false);
    }
    entry.peer.signal(payload);
  }

  private open(jobId: string, peerId: string, initiator: boolean): CoLink {
    const k = key(jobId, peerId);
    const peer = this.deps.createPeer({
      initiator,
      onSignal: (payload) => this.deps.signaling.send({ type: 'signal', to: peerId, jobId, payload }),
    });
    const entry: CoLink = { peer, initiator, ready: peer.ready };
    this.links.set(k, entry);
    peer.ready.then(
      (link) => {
        if (this.links.get(k) !== entry) return link.close();
        entry.link = link;
        link.onMessage((stream, bytes) => this.deps.onMessage(peerId, jobId, stream, bytes));
        link.onClose(() => this.drop(k, entry));
      },
      () => this.drop(k, entry),
    );
    return entry;
  }

  private drop(k: string, entry: CoLink): void {
    if (this.links.get(k) !== entry) return;
    this.links.delete(k);
    entry.link?.close();
    entry.peer.close();
    const space = k.indexOf(' ');
    this.deps.onClose?.(k.slice(space + 1), k.slice(0, space));
  }
}
