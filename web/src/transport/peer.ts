/**
 * The one place simple-peer is used: the WebRTC handshake. It is unmaintained
 * since 2022 and its send() ignores backpressure, so once connected we take
 * its RTCDataChannel and hand it to a FramedChannel; simple-peer's stream API
 * is never used for data.
 *
 * The channel is pre-negotiated (`negotiated: true, id: 0`), so both sides
 * create it in simple-peer's constructor and we install our message handler
 * before any frame can arrive. (An in-band channel appears on the answerer
 * only in `ondatachannel`, and the first frames could reach simple-peer's own
 * stream buffer before its 'connect' event.)
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import * as v from 'valibot';
import { SignalPayloadSchema, type SignalPayload } from '@shared/protocol';
import { loadHasher, TransportError } from '@shared/transport';
import { CONNECT_TIMEOUT_MS } from './constants';
import { FramedChannel, type FramedChannelOptions } from './framed-channel';

export interface PeerOptions {
  /** The requester initiates (sends the offer); the provider answers. */
  initiator: boolean;
  /** From the server's `welcome`; empty means host candidates only (fine on one machine or LAN). */
  iceServers?: RTCIceServer[];
  /** Called with each handshake blob to relay to the other side. */
  onSignal: (payload: SignalPayload) => void;
  /** Give up if not connected by then. */
  connectTimeoutMs?: number;
}

export interface PeerLinkBase {
  /** Feed a handshake blob relayed from the other side. */
  signal(payload: SignalPayload): void;
  close(): void;
  /** Called once when the connection ends; `error` is set when it failed. */
  onClose(listener: (error?: Error) => void): () => void;
}

export interface RawPeerLink extends PeerLinkBase {
  /** The data channel, available at once (still 'connecting'); set its handlers before awaiting `connected`. */
  channel: RTCDataChannel;
  connected: Promise<RTCDataChannel>;
}

export interface PeerLink extends PeerLinkBase {
  ready: Promise<FramedChannel>;
}

interface SimplePeerInternals {
  _channel: RTCDataChannel;
}

/** A simple-peer connection reduced to its handshake and its raw data channel. */
export function connectDataChannel(options: PeerOptions): RawPeerLink {
  const peer = new SimplePeer({
    initiator: options.initiator,
    trickle: true,
    // Without this simple-peer adds Google and Twilio STUN servers.
    config: { iceServers: options.iceServers ?? [] },
    channelConfig: { ordered: true, negotiated: true, id: 0 },
  });
  const channel = (peer as unknown as SimplePeerInternals)._channel;
  const closeListeners = new Set<(error?: Error) => void>();
  let ended = false;
  const end = (error?: Error) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    peer.destroy();
    for (const listener of closeListeners) listener(error);
    closeListeners.clear();
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const connected = new Promise<RTCDataChannel>((resolve, reject) => {
    timer = setTimeout(
      () => end(new TransportError('channel', 'peer connection timed out')),
      options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    );
    peer.once('connect', () => {
      clearTimeout(timer);
      resolve(channel);
    });
    closeListeners.add((error) => reject(error ?? new TransportError('closed', 'peer closed before it connected')));
  });
  connected.catch(() => {}); // the caller may only listen to onClose

  peer.on('signal', (data: unknown) => {
    const parsed = v.safeParse(SignalPayloadSchema, data);
    // A data-only peer emits offer/answer/candidate only; renegotiation and
    // transceiver requests (media) have no place in the signaling protocol.
    if (parsed.success) options.onSignal(parsed.output);
    else console.warn('transport: dropping a simple-peer signal outside the protocol', data);
  });
  peer.on('error', (error: Error) => end(error));
  peer.on('close', () => end());

  return {
    channel,
    connected,
    signal(payload) {
      if (ended) return;
      try {
        peer.signal(payload as Parameters<typeof peer.signal>[0]);
      } catch (error) {
        end(error as Error);
      }
    },
    close: () => end(),
    onClose(listener) {
      if (ended) {
        queueMicrotask(() => listener());
        return () => {};
      }
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
  };
}

/** A peer connection whose data travels through a FramedChannel. */
export function createPeer(options: PeerOptions & { framing?: Omit<FramedChannelOptions, 'earlyFrames'> }): PeerLink {
  const link = connectDataChannel(options);
  const { channel } = link;
  // Hold frames that arrive between the channel opening and the framing
  // taking over (the other side may connect and send first).
  const early: ArrayBuffer[] = [];
  channel.binaryType = 'arraybuffer';
  channel.onmessage = (event: MessageEvent) => early.push(event.data as ArrayBuffer);

  const ready = Promise.all([link.connected, loadHasher()]).then(([open, hasher]) => {
    const framed = new FramedChannel(open, hasher, { ...options.framing, earlyFrames: early });
    early.length = 0;
    // simple-peer no longer sees the channel's close (the framing took onclose),
    // so each side ends the other.
    framed.onClose(() => link.close());
    link.onClose(() => framed.close());
    return framed;
  });
  ready.catch(() => {});
  return { signal: link.signal, close: link.close, onClose: link.onClose, ready };
}
