/**
 * Test and bench harness for the transport: exposes `window.transportHarness`
 * so Playwright can connect two pages (relaying handshake blobs between them
 * through the test itself, no signaling server), send, corrupt and time.
 * Content checks use SHA-256 (WebCrypto), independent of the framing's xxh3.
 */
import type { SignalPayload } from '@shared/protocol';
import { sha256Hex } from '@shared/bytes';
import { encodeFrame, frameCount, loadHasher, type TransportError } from '@shared/transport';
import { contractCases, patternBytes, type ChannelPair } from '../src/transport/contract';
import type { FramedChannel } from '../src/transport/framed-channel';
import { connectDataChannel, createPeer, type PeerLinkBase } from '../src/transport/peer';
import { messageOf } from '@shared/errors';

declare global {
  interface Window {
    /** Installed by the test with page.exposeFunction: carries a blob to the other page. */
    relaySignal?: (link: string, payload: SignalPayload) => Promise<void>;
    transportHarness: typeof harness;
  }
}

interface Received {
  stream: number;
  messageId: number;
  length: number;
  sha256: string;
  at: number;
}

const links = new Map<string, PeerLinkBase>();
const queuedSignals = new Map<string, SignalPayload[]>();
const framed = new Map<string, FramedChannel>();
const raw = new Map<string, RTCDataChannel>();
const received: Received[] = [];
const errors: { name: string; code: string; stream?: number; messageId?: number; message: string }[] = [];
const pendingDigests: Promise<void>[] = [];
const rawReceived = { bytes: 0, messages: 0, lastAt: 0 };

/** Epoch milliseconds comparable between the two browser processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

function relay(name: string) {
  return (payload: SignalPayload) => void window.relaySignal?.(name, payload);
}

function register(name: string, link: PeerLinkBase): void {
  links.set(name, link);
  for (const payload of queuedSignals.get(name) ?? []) link.signal(payload);
  queuedSignals.delete(name);
}

function record(channel: FramedChannel): void {
  channel.onMessage((message) => {
    const entry: Received = {
      stream: message.stream,
      messageId: message.messageId,
      length: message.bytes.length,
      sha256: '',
      at: now(),
    };
    received.push(entry);
    pendingDigests.push(sha256Hex(message.bytes).then((hex) => void (entry.sha256 = hex)));
  });
  channel.onError((error: TransportError) => {
    errors.push({
      name: error.name,
      code: error.code,
      stream: error.stream,
      messageId: error.messageId,
      message: error.message,
    });
  });
}

function channelOf(name: string): FramedChannel {
  const channel = framed.get(name);
  if (!channel) throw new Error(`no framed channel "${name}"`);
  return channel;
}

const bulk = new Map<string, Promise<void>>();

const harness = {
  /** Deliver a handshake blob from the other page (queued until the link exists). */
  signal(name: string, payload: SignalPayload): void {
    const link = links.get(name);
    if (link) link.signal(payload);
    else queuedSignals.set(name, [...(queuedSignals.get(name) ?? []), payload]);
  },

  async connectFramed(name: string, initiator: boolean): Promise<void> {
    const link = createPeer({ initiator, onSignal: relay(name) });
    register(name, link);
    const channel = await link.ready;
    framed.set(name, channel);
    record(channel);
  },

  async connectRaw(name: string, initiator: boolean): Promise<void> {
    const link = connectDataChannel({ initiator, onSignal: relay(name) });
    register(name, link);
    link.channel.binaryType = 'arraybuffer';
    link.channel.onmessage = (event: MessageEvent) => {
      rawReceived.bytes += (event.data as ArrayBuffer).byteLength;
      rawReceived.messages++;
      rawReceived.lastAt = now();
    };
    raw.set(name, await link.connected);
  },

  /** Sends a pattern message and returns the SHA-256 of what was sent. */
  async send(name: string, stream: number, size: number, seed: number): Promise<string> {
    const bytes = patternBytes(size, seed);
    await channelOf(name).send(stream, bytes);
    return sha256Hex(bytes);
  },

  /** Starts a send without waiting for it; `awaitBulk` waits. */
  startBulk(name: string, stream: number, size: number, seed: number): void {
    bulk.set(`${name}/${stream}`, channelOf(name).send(stream, patternBytes(size, seed)));
  },

  async awaitBulk(name: string, stream: number): Promise<void> {
    await bulk.get(`${name}/${stream}`);
  },

  async digest(size: number, seed: number): Promise<string> {
    return sha256Hex(patternBytes(size, seed));
  },

  /**
   * Sends a message as raw frames with one payload byte flipped in frame
   * `corruptFrame`, as a faulty link would deliver it; the hash is the real one.
   */
  async sendCorrupted(
    name: string,
    stream: number,
    size: number,
    seed: number,
    corruptFrame: number,
    messageId: number,
  ): Promise<number> {
    const channel = channelOf(name);
    const bytes = patternBytes(size, seed);
    const hash = (await loadHasher()).digest(bytes);
    const frames = frameCount(size);
    for (let i = 0; i < frames; i++) {
      const frame = encodeFrame(stream, messageId, i, bytes, hash);
      if (i === corruptFrame) frame[frame.length - 1]! ^= 0x40;
      channel.channel.send(frame);
    }
    return frames;
  },

  async received(): Promise<Received[]> {
    await Promise.all(pendingDigests);
    return received.map((entry) => ({ ...entry }));
  },

  errors: () => errors.slice(),
  stats: (name: string) => ({ ...channelOf(name).stats }),

  /** Runs the contract cases over real data channels between two peers in this page. */
  async runContract(): Promise<{ name: string; ok: boolean; error?: string }[]> {
    const results: { name: string; ok: boolean; error?: string }[] = [];
    for (const testCase of contractCases) {
      const pair = await localPair();
      try {
        await testCase.run(pair);
        results.push({ name: testCase.name, ok: true });
      } catch (error) {
        results.push({ name: testCase.name, ok: false, error: messageOf(error) });
      } finally {
        pair.a.close();
        pair.b.close();
      }
    }
    return results;
  },

  // ------------------------------------------------------------- bench

  /** Receiver: resolves when `count` framed messages have arrived on `stream` since the call. */
  async expectFramed(
    name: string,
    stream: number,
    count: number,
  ): Promise<{ firstAt: number; lastAt: number; bytes: number }> {
    const channel = channelOf(name);
    return new Promise((resolve) => {
      let got = 0;
      let bytes = 0;
      let firstAt = 0;
      const off = channel.onMessage((message) => {
        if (message.stream !== stream) return;
        if (got === 0) firstAt = now();
        got++;
        bytes += message.bytes.length;
        if (got === count) {
          off();
          resolve({ firstAt, lastAt: now(), bytes });
        }
      });
    });
  },

  /** Sender: `count` messages of `size` bytes on `stream`; returns when it started (epoch ms). */
  async sendFramedBench(name: string, stream: number, count: number, size: number): Promise<number> {
    const channel = channelOf(name);
    const message = patternBytes(size, 1);
    const startedAt = now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < count; i++) sends.push(channel.send(stream, message));
    await Promise.all(sends);
    return startedAt;
  },

  resetRaw(): void {
    rawReceived.bytes = 0;
    rawReceived.messages = 0;
  },

  /** Receiver: resolves when `bytes` raw bytes have arrived since resetRaw(). */
  async expectRaw(bytes: number): Promise<number> {
    while (rawReceived.bytes < bytes) await new Promise((resolve) => setTimeout(resolve, 2));
    return rawReceived.lastAt;
  },

  /** Sender: the naive baseline — 64 KiB messages, wait for `bufferedamountlow` above the high-water mark. */
  async sendRawBench(
    name: string,
    totalBytes: number,
    messageBytes: number,
    highWaterMark: number,
    lowWaterMark: number,
  ): Promise<number> {
    const channel = raw.get(name);
    if (!channel) throw new Error(`no raw channel "${name}"`);
    channel.bufferedAmountLowThreshold = lowWaterMark;
    const startedAt = now();
    for (let sent = 0; sent < totalBytes; sent += messageBytes) {
      if (channel.bufferedAmount > highWaterMark) {
        await new Promise<void>((resolve) =>
          channel.addEventListener('bufferedamountlow', () => resolve(), { once: true }),
        );
      }
      // A fresh buffer per message, as the framing makes one per frame.
      channel.send(new Uint8Array(messageBytes));
    }
    return startedAt;
  },
};

async function localPair(): Promise<ChannelPair> {
  let toA: (payload: SignalPayload) => void = () => {};
  let toB: (payload: SignalPayload) => void = () => {};
  const a = createPeer({ initiator: true, onSignal: (payload) => toB(payload) });
  const b = createPeer({ initiator: false, onSignal: (payload) => toA(payload) });
  toA = (payload) => a.signal(payload);
  toB = (payload) => b.signal(payload);
  const [channelA, channelB] = await Promise.all([a.ready, b.ready]);
  return { a: channelA, b: channelB };
}

window.transportHarness = harness;
document.body.dataset.ready = 'true';
