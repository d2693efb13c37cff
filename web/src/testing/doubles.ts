/**
 * In-memory doubles for the core's ports: a signaling hub that pairs every
 * open job with announced providers, peers whose "WebRTC" is a pair of
 * in-memory links, and a compute engine running a plain function. Tests of
 * the provider and requester cores run the real core code over these.
 */
import type { RawTensor } from '@shared/protocol';
import type { Capabilities, ClientMessage, SignalPayload } from '@shared/protocol';
import { randomId } from '@shared/bytes';
import { splitOnnx } from '@shared/tensor';
import { Emitter } from '../core/emitter';
import type {
  ComputeEngine,
  MessageLink,
  PeerFactory,
  PeerHandle,
  SignalingEvents,
  SignalingPort,
} from '../core/ports';

export const TEST_CAPABILITIES: Capabilities = {
  backend: 'wasm',
  gflops: 10,
  measured: { wasm: 10 },
  features: [],
  maxBufferBytes: 1 << 28,
  wasm: { simd: true, threads: false, cores: 1 },
};

class HubClient implements SignalingPort {
  readonly events = new Emitter<SignalingEvents>();
  role?: 'provider' | 'requester';
  constructor(
    readonly hub: FakeHub,
    readonly peerId: string,
  ) {}
  send(message: ClientMessage): void {
    queueMicrotask(() => this.hub.receive(this, message));
  }
  on<K extends keyof SignalingEvents>(event: K, handler: (value: SignalingEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }
}

/** Pairs each open job with up to maxProviders free, unpaused providers. */
export class FakeHub {
  private readonly clients = new Map<string, HubClient>();
  private readonly providers = new Map<string, { capabilities: Capabilities; paused: boolean; job?: string }>();
  private readonly jobs = new Map<
    string,
    { requester: string; max: number; providers: Set<string>; excluded: Set<string> }
  >();

  connect(peerId: string): HubClient {
    const client = new HubClient(this, peerId);
    this.clients.set(peerId, client);
    queueMicrotask(() => {
      client.events.emit('state', 'open');
      client.events.emit('welcome', { type: 'welcome', peerId, iceServers: [], heartbeatMs: 15_000 });
    });
    return client;
  }

  /** The peer's tab closes: its jobs close and its pairings end. */
  disconnect(peerId: string): void {
    this.clients.delete(peerId);
    const provider = this.providers.get(peerId);
    if (provider?.job) this.unpair(provider.job, peerId, 'provider left');
    this.providers.delete(peerId);
    for (const [jobId, job] of this.jobs) {
      if (job.requester !== peerId) continue;
      for (const p of job.providers) this.unpair(jobId, p, 'requester left');
      this.jobs.delete(jobId);
    }
    // Like the server: a job that lost its provider is offered the free ones.
    this.match();
  }

  receive(from: HubClient, message: ClientMessage): void {
    if (!this.clients.has(from.peerId)) return;
    switch (message.type) {
      case 'announce':
        this.providers.set(from.peerId, { capabilities: message.capabilities, paused: false });
        break;
      case 'status': {
        const p = this.providers.get(from.peerId);
        if (p) p.paused = message.paused;
        break;
      }
      case 'job-open':
        // Like the server's matchmaker: opening a job this requester already has open only updates its needs.
        if (this.jobs.get(message.jobId)?.requester === from.peerId) {
          this.jobs.get(message.jobId)!.max = message.needs.maxProviders;
          break;
        }
        this.jobs.set(message.jobId, {
          requester: from.peerId,
          max: message.needs.maxProviders,
          providers: new Set(),
          excluded: new Set(),
        });
        break;
      case 'job-close': {
        const job = this.jobs.get(message.jobId);
        for (const p of job?.providers ?? []) this.unpair(message.jobId, p, 'job closed');
        this.jobs.delete(message.jobId);
        break;
      }
      case 'release':
        // A released provider is not paired with this job again.
        this.jobs.get(message.jobId)?.excluded.add(message.peerId);
        this.unpair(message.jobId, message.peerId, 'released');
        break;
      case 'signal':
        this.clients.get(message.to)?.events.emit('signal', {
          type: 'signal',
          from: from.peerId,
          jobId: message.jobId,
          payload: message.payload,
        });
        return;
      default:
        return;
    }
    this.match();
  }

  private unpair(jobId: string, providerId: string, reason: string): void {
    const job = this.jobs.get(jobId);
    const provider = this.providers.get(providerId);
    if (provider?.job === jobId) provider.job = undefined;
    if (!job?.providers.delete(providerId)) return;
    this.clients.get(job.requester)?.events.emit('unmatched', { type: 'unmatched', jobId, peerId: providerId, reason });
    this.clients.get(providerId)?.events.emit('unmatched', { type: 'unmatched', jobId, peerId: job.requester, reason });
  }

  private match(): void {
    for (const [jobId, job] of this.jobs) {
      for (const [providerId, provider] of this.providers) {
        if (job.providers.size >= job.max) break;
        if (provider.job || provider.paused || job.excluded.has(providerId)) continue;
        provider.job = jobId;
        job.providers.add(providerId);
        // Like the server: one session id per pairing, the same on both sides (SPEC BIND2).
        const pairing = { session: randomId(16), network: 'memory-network' };
        this.clients.get(job.requester)?.events.emit('matched', {
          type: 'matched',
          jobId,
          peerId: providerId,
          role: 'provider',
          capabilities: provider.capabilities,
          ...pairing,
        });
        this.clients
          .get(providerId)
          ?.events.emit('matched', { type: 'matched', jobId, peerId: job.requester, role: 'requester', ...pairing });
      }
    }
  }
}

class MemoryLink implements MessageLink {
  other?: MemoryLink;
  private messageHandler?: (stream: number, bytes: Uint8Array) => void;
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private closed = false;
  async send(stream: number, bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('link closed');
    const copy = bytes.slice();
    queueMicrotask(() => this.other && !this.other.closed && this.other.messageHandler?.(stream, copy));
  }
  onMessage(handler: (stream: number, bytes: Uint8Array) => void): void {
    this.messageHandler = handler;
  }
  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(reason);
    this.other?.close('remote closed');
  }
}

/** Peers that "connect" when an offer reaches the answerer and its answer comes back. */
export function memoryPeerFactory(): PeerFactory & { cutAll(): void } {
  const pending = new Map<string, { link: MemoryLink; resolve: (link: MessageLink) => void }>();
  const links: MemoryLink[] = [];
  let counter = 0;
  const factory: PeerFactory = ({ initiator, onSignal }) => {
    let resolveReady!: (link: MessageLink) => void;
    let rejectReady!: (error: Error) => void;
    const ready = new Promise<MessageLink>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
    ready.catch(() => undefined);
    const link = new MemoryLink();
    links.push(link);
    if (initiator) {
      const id = `peer-${++counter}`;
      pending.set(id, { link, resolve: resolveReady });
      queueMicrotask(() => onSignal({ type: 'offer', sdp: id }));
    }
    const handle: PeerHandle = {
      ready,
      signal(payload: SignalPayload) {
        if (initiator || payload.type !== 'offer') return;
        const offer = pending.get(payload.sdp);
        if (!offer) return rejectReady(new Error('unknown offer'));
        pending.delete(payload.sdp);
        link.other = offer.link;
        offer.link.other = link;
        onSignal({ type: 'answer', sdp: payload.sdp });
        resolveReady(link);
        offer.resolve(offer.link);
      },
      close() {
        link.close('closed');
        rejectReady(new Error('closed'));
      },
    };
    return handle;
  };
  /** Every data channel dies at once (as on a network change) while the server keeps the pairings. */
  const cutAll = () => {
    for (const link of links.splice(0)) link.close('network lost');
  };
  return Object.assign(factory, { cutAll });
}

/** A float32 engine running `fn` elementwise on the first input; output named `y`. */
/**
 * An engine for affineModel versions: reads a and b from the model it loads
 * (so units computed with another version give other values) and computes
 * a·x + b in float32, like onnxruntime would.
 */
export function affineEngine(options: { delayMs?: number } = {}): ComputeEngine & { runs: number } {
  const params = new Map<string, { a: number; b: number }>();
  const engine = {
    backend: 'wasm' as const,
    runs: 0,
    async load(hash: string, bytes: Uint8Array) {
      const value = (name: string) => {
        const t = splitOnnx(bytes).weights.tensors.find((w) => w.name === name)!;
        return new Float32Array(Uint32Array.from(t.data).buffer)[0]!;
      };
      params.set(hash, { a: value('a'), b: value('b') });
    },
    async run(hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
      const p = params.get(hash);
      if (!p) throw new Error(`model ${hash} is not loaded`);
      engine.runs++;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      const x = inputs[0]!;
      const xs = new Float32Array(x.bytes.slice().buffer);
      const ys = xs.map((v) => Math.fround(Math.fround(p.a * v) + p.b));
      return [{ name: 'y', dtype: 'float32', dims: [...x.dims], bytes: new Uint8Array(ys.buffer) }];
    },
  };
  return engine;
}

export function functionEngine(
  fn: (x: number) => number,
  options: { delayMs?: number } = {},
): ComputeEngine & { runs: number } {
  const engine = {
    backend: 'wasm' as const,
    runs: 0,
    async load() {},
    async run(_hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
      engine.runs++;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      const x = inputs[0]!;
      const xs = new Float32Array(x.bytes.slice().buffer);
      const ys = xs.map(fn);
      return [{ name: 'y', dtype: 'float32', dims: [...x.dims], bytes: new Uint8Array(ys.buffer) }];
    },
  };
  return engine;
}
