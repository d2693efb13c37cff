/**
 * The link lifecycle of one side of a job's pairings, shared by the requester
 * (initiator) and the provider (responder): open a WebRTC link per (job, peer)
 * through the signaling relay, route handshake signals to it, give up when it
 * does not open in time, and close it once. A session object is the pairing's
 * identity: every event of an old session (a late close, a late message, a
 * late open) is dropped, so it can never end or feed a newer pairing.
 * Extensions (PULSE weights) ride the links on their own stream.
 */
import { PeerStream, type SignalPayload } from '@shared/protocol';
import { PEER_CONNECT_TIMEOUT_MS } from '../core/constants';
import { messageOf } from '@shared/errors';
import type { LinkExtension, MessageLink, PeerFactory, PeerHandle, SignalingPort } from '../core/ports';

export interface PeerSession {
  readonly key: string;
  readonly jobId: string;
  readonly peerId: string;
  link?: MessageLink;
}

export interface SessionHandlers {
  /** The data channel is open. */
  onOpen(session: PeerSession, link: MessageLink): void;
  /** A message on any stream but the extension's. */
  onMessage(session: PeerSession, stream: number, bytes: Uint8Array): void;
  /** The session ended (its link closed or failed, or it never opened in time); called once, for current sessions only. */
  onClose(session: PeerSession, reason: string): void;
}

export interface PeerSessionsDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  /** The requester starts each connection; the provider answers. */
  initiator: boolean;
  handlers: SessionHandlers;
  extension?: LinkExtension;
  connectTimeoutMs?: number;
}

interface SessionState extends PeerSession {
  peer: PeerHandle;
  timer?: ReturnType<typeof setTimeout>;
}

export const sessionKey = (jobId: string, peerId: string): string => `${jobId}/${peerId}`;

export class PeerSessions {
  private readonly sessions = new Map<string, SessionState>();

  constructor(private readonly deps: PeerSessionsDeps) {}

  get size(): number {
    return this.sessions.size;
  }

  get(jobId: string, peerId: string): PeerSession | undefined {
    return this.sessions.get(sessionKey(jobId, peerId));
  }

  isCurrent(session: PeerSession): boolean {
    return this.sessions.get(session.key) === session;
  }

  /** The live session for (job, peer), or a new one. */
  open(jobId: string, peerId: string): PeerSession {
    const key = sessionKey(jobId, peerId);
    const existing = this.sessions.get(key);
    if (existing) return existing;
    const peer = this.deps.createPeer({
      initiator: this.deps.initiator,
      onSignal: (payload) => this.deps.signaling.send({ type: 'signal', to: peerId, jobId, payload }),
    });
    const session: SessionState = { key, jobId, peerId, peer };
    this.sessions.set(key, session);
    session.timer = setTimeout(() => {
      if (!session.link) this.close(session, 'data channel did not open in time');
    }, this.deps.connectTimeoutMs ?? PEER_CONNECT_TIMEOUT_MS);
    peer.ready.then(
      (link) => {
        clearTimeout(session.timer);
        if (!this.isCurrent(session)) return link.close();
        session.link = link;
        const { extension, handlers } = this.deps;
        link.onMessage((stream, bytes) => {
          if (!this.isCurrent(session)) return;
          if (stream === PeerStream.weights) extension?.receive(peerId, jobId, bytes);
          else handlers.onMessage(session, stream, bytes);
        });
        extension?.attach({ peerId, jobId, send: (bytes) => link.send(PeerStream.weights, bytes) });
        link.onClose((reason) => this.close(session, `channel closed: ${reason}`));
        handlers.onOpen(session, link);
      },
      (error: unknown) => this.close(session, `connection failed: ${messageOf(error)}`),
    );
    return session;
  }

  /**
   * A handshake blob from `from` for `jobId`. As the responder, an offer on a
   * session whose link is open means the other side lost its link and starts
   * over: data channels never renegotiate, so the old session ends.
   */
  signal(jobId: string, from: string, payload: SignalPayload): void {
    let session = this.sessions.get(sessionKey(jobId, from));
    if (!this.deps.initiator) {
      if (payload.type === 'offer' && session?.link) {
        this.close(session, 'the other side reconnected');
        session = undefined;
      }
      session ??= this.open(jobId, from) as SessionState;
    }
    session?.peer.signal(payload);
  }

  send(session: PeerSession, stream: number, bytes: Uint8Array): void {
    session.link?.send(stream, bytes).catch(() => this.close(session, 'send failed'));
  }

  /** Ends `session` if it is still the current one for its key. */
  close(session: PeerSession | undefined, reason: string): void {
    if (!session || !this.isCurrent(session)) return;
    const state = session as SessionState;
    this.sessions.delete(session.key);
    clearTimeout(state.timer);
    if (state.link) this.deps.extension?.detach(session.peerId, session.jobId);
    state.link?.close();
    state.peer.close();
    this.deps.handlers.onClose(session, reason);
  }

  closeAll(reason: string): void {
    for (const session of [...this.sessions.values()]) this.close(session, reason);
  }
}
