/**
 * The two wire dialects the load generator speaks: ours (challenge → hello →
 * auth with an Ed25519 signature → announce / job-open → matched → signal) and
 * PeerJS server 1.0.2's (OPEN on connect, then {type, dst, payload} relayed as
 * {type, src, dst, payload}). Both relay the same 800-byte offer per message.
 */
import { authMessage, createIdentity, sign, type Identity } from '@shared/identity';
import { PROTOCOL_VERSION } from '@shared/protocol';

export type Server = 'ours' | 'peerjs';

/** An SDP-sized payload: 800 bytes with the send time (ms, wall clock shared by processes) up front. */
export function offerSdp(sentAt: number): string {
  const head = `t=${sentAt.toFixed(3)};`;
  return head + 'v'.repeat(800 - head.length);
}

export function sentAtOf(sdp: string): number {
  return Number(sdp.slice(2, sdp.indexOf(';')));
}

/** Wall-clock ms with µs resolution, comparable across processes on one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

export interface Dialect {
  url(base: string, id: string): string;
  /** Frames to send once the socket is open and the first server frame has arrived; null when ready. */
  handshake(first: Record<string, unknown>, role: 'provider' | 'requester', identity: Identity): Promise<string[]>;
  offer(to: string, jobId: string, sdp: string, answer: boolean): string;
  /** The sdp and sender of a relayed message, or null for other frames. */
  relayed(frame: Record<string, unknown>): { from: string; jobId: string; sdp: string; answer: boolean } | null;
}

export const OURS: Dialect = {
  url: (base) => `${base}/ws`,
  async handshake(first, role, identity) {
    if (first.type !== 'challenge') throw new Error(`expected a challenge, got ${JSON.stringify(first)}`);
    const signature = await sign(identity, authMessage(String(first.nonce), role));
    return [
      JSON.stringify({ type: 'hello', v: PROTOCOL_VERSION, role }),
      JSON.stringify({ type: 'auth', publicKey: identity.peerId, signature }),
    ];
  },
  offer: (to, jobId, sdp, answer) =>
    JSON.stringify({ type: 'signal', to, jobId, payload: { type: answer ? 'answer' : 'offer', sdp } }),
  relayed(frame) {
    if (frame.type !== 'signal') return null;
    const payload = frame.payload as { type: string; sdp: string };
    return {
      from: String(frame.from),
      jobId: String(frame.jobId),
      sdp: payload.sdp,
      answer: payload.type === 'answer',
    };
  },
};

export const PEERJS: Dialect = {
  url: (base, id) => `${base}/peerjs?key=peerjs&id=${id}&token=${id.slice(0, 8)}`,
  async handshake(first) {
    if (first.type !== 'OPEN') throw new Error(`expected OPEN, got ${JSON.stringify(first)}`);
    return [];
  },
  offer: (to, _jobId, sdp, answer) =>
    JSON.stringify({ type: answer ? 'ANSWER' : 'OFFER', dst: to, payload: { sdp: { type: 'offer', sdp } } }),
  relayed(frame) {
    if (frame.type !== 'OFFER' && frame.type !== 'ANSWER') return null;
    const payload = frame.payload as { sdp: { sdp: string } };
    return { from: String(frame.src), jobId: '', sdp: payload.sdp.sdp, answer: frame.type === 'ANSWER' };
  },
};

export { createIdentity };
