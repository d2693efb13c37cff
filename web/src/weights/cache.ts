/**
 * Provider side of weight distribution (a LinkExtension on the requester
 * link, plus its own co-provider links). Holds one version per model, applies
 * chains of PULSE entries to it, proves each step by hash, and acknowledges.
 * Only a version its job's requester offered is accepted, whoever delivers
 * it; a bad patch leaves the held version as it was. On the requester's
 * `weights-forward` it brings co-providers up from what it has stored.
 */
import {
  decodeWeightsMessage,
  encodeWeightsMessage,
  PeerStream,
  packEntries,
  unpackEntries,
  type WeightsErrorCode,
  type WeightsHeader,
  type WeightsHeaderOf,
} from '@shared/protocol';
import { apply, decode, DEFAULT_LIMITS, hashToHex, PulseError, type DecodeLimits, type Model } from '@shared/pulse';
import { Observable } from '../core/emitter';
import type { ExtensionChannel, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import type { KeyValueStore } from '../storage/kv';
import { planFrom } from './chain';
import { CoLinks } from '../net/co-links';
import { FORWARD_TIMEOUT_MS } from './constants';
import { WeightsError } from './errors';
import { WeightsStore, type StoredEntry } from './store';
import { messageOf } from '@shared/errors';

export interface HeldModelView {
  modelId: string;
  hash: string;
  version: number;
  updatedAt: number;
}

export interface CacheView {
  models: HeldModelView[];
  bytesReceived: number;
  bytesForwarded: number;
  lastError?: string;
}

export interface CacheDeps {
  store: KeyValueStore;
  signaling: SignalingPort;
  createPeer: PeerFactory;
  limits?: DecodeLimits;
  forwardTimeoutMs?: number;
  now?: () => number;
}

interface Held {
  hash: string;
  version: number;
  model: Model;
}

type Source = {
  kind: 'requester' | 'co-provider';
  peerId: string;
  jobId: string;
  send(bytes: Uint8Array): Promise<void>;
};

const linkKey = (peerId: string, jobId: string) => `${jobId} ${peerId}`;

export class WeightsCache implements LinkExtension {
  readonly view = new Observable<CacheView>({ models: [], bytesReceived: 0, bytesForwarded: 0 });
  private readonly store: WeightsStore;
  private readonly coLinks: CoLinks;
  private readonly requesterLinks = new Map<string, ExtensionChannel>();
  private readonly held = new Map<string, Held>();
  /** What our requester last offered, per model: the only version we accept. */
  private readonly wanted = new Map<string, { hash: string; version: number }>();
  private readonly waiters = new Map<string, (header: WeightsHeader) => void>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CacheDeps) {
    this.store = new WeightsStore(deps.store, deps.limits ?? DEFAULT_LIMITS, undefined, undefined, deps.now);
    this.coLinks = new CoLinks({
      signaling: deps.signaling,
      createPeer: deps.createPeer,
      onMessage: (peerId, jobId, stream, bytes) => {
        if (stream !== PeerStream.weights) return;
        this.enqueue({ kind: 'co-provider', peerId, jobId, send: (b) => this.send(jobId, peerId, b) }, bytes);
      },
    });
  }

  /** Sends on the weights stream of a co-provider link, opened if needed. */
  private async send(jobId: string, peerId: string, bytes: Uint8Array): Promise<void> {
    const link = await this.coLinks.connect(jobId, peerId).catch((error: unknown) => {
      throw new WeightsError('forward-failed', messageOf(error));
    });
    return link.send(PeerStream.weights, bytes);
  }

  /** Subscribes to signaling (co-provider links) at once, so call it before the ProviderNode starts; resolves once the store is listed. */
  start(): Promise<void> {
    this.coLinks.start();
    return this.refresh();
  }

  stop(): void {
    this.coLinks.stop();
  }

  /** The held version of a model, loaded (and proven by hash) from the store if needed. */
  async model(modelId: string): Promise<Held | null> {
    const cached = this.held.get(modelId);
    if (cached) return cached;
    const index = await this.store.index(modelId);
    if (!index) return null;
    const model = await this.store.model(modelId, index.held);
    if (!model) return null;
    const held = { hash: index.held, version: index.version, model };
    this.held.set(modelId, held);
    return held;
  }

  attach(channel: ExtensionChannel): void {
    this.requesterLinks.set(linkKey(channel.peerId, channel.jobId), channel);
    this.coLinks.requesters.set(channel.jobId, channel.peerId);
  }

  receive(peerId: string, jobId: string, bytes: Uint8Array): void {
    const channel = this.requesterLinks.get(linkKey(peerId, jobId));
    if (channel) this.enqueue({ kind: 'requester', ...channel }, bytes);
  }

  detach(peerId: string, jobId: string): void {
    this.requesterLinks.delete(linkKey(peerId, jobId));
  }

  /** Messages are handled one at a time, so a patch never applies on top of a half-applied one. */
  private enqueue(source: Source, bytes: Uint8Array): void {
    this.queue = this.queue
      .then(() => this.handle(source, bytes))
      .catch((error: unknown) => this.note(`internal: ${messageOf(error)}`));
  }

  private async handle(source: Source, bytes: Uint8Array): Promise<void> {
    let message;
    try {
      message = decodeWeightsMessage(bytes);
    } catch (error) {
      return this.note(`bad message from ${source.peerId.slice(0, 8)}: ${messageOf(error)}`);
    }
    const { header, body } = message;
    const waiter = this.waiters.get(`${source.jobId} ${source.peerId} ${header.modelId}`);
    switch (header.type) {
      case 'weights-offer': {
        if (source.kind === 'requester')
          this.wanted.set(header.modelId, { hash: header.hash, version: header.version });
        const held = await this.model(header.modelId);
        return this.reply(source, { type: 'weights-have', modelId: header.modelId, held: held ? [held.hash] : [] });
      }
      case 'weights-patch':
        return this.onPatch(source, header, body);
      case 'weights-forward':
        if (source.kind !== 'requester')
          return this.note(`ignored a forward request from co-provider ${source.peerId.slice(0, 8)}`);
        // Not awaited: forwarding waits on other peers and must not hold up this queue.
        for (const to of header.to) void this.forward(source, header.modelId, header.hash, to);
        return;
      case 'weights-have':
      case 'weights-ack':
      case 'weights-error':
        waiter?.(header);
        return;
      default:
        return this.note(`unexpected ${header.type} from ${source.peerId.slice(0, 8)}`);
    }
  }

  private async onPatch(source: Source, header: WeightsHeaderOf<'weights-patch'>, body: Uint8Array): Promise<void> {
    const { modelId } = header;
    const fail = (code: WeightsErrorCode, reason: string) => {
      this.note(`${modelId}: ${reason}`);
      return this.reply(source, { type: 'weights-error', modelId, code, reason: reason.slice(0, 1024) });
    };
    if (this.wanted.get(modelId)?.hash !== header.target)
      return fail('unwanted', `version ${header.target} was not offered by this job's requester`);
    const before = await this.model(modelId);
    let current: Model | null = before?.model ?? null;
    let currentHash: string | null = before?.hash ?? null;
    const added: (StoredEntry & { payload: Uint8Array })[] = [];
    for (const entry of unpackEntries(header.entries, body)) {
      if (entry.from !== null && entry.from !== currentHash)
        return fail('no-base', `entry needs ${entry.from}, held is ${currentHash ?? 'nothing'}`);
      try {
        const patch = decode(entry.payload, this.deps.limits ?? DEFAULT_LIMITS);
        const from = patch.baseHash && hashToHex(patch.baseHash);
        if (from !== entry.from || hashToHex(patch.resultHash) !== entry.to)
          throw new WeightsError('corrupt', 'entry header does not match its PULSE container');
        current = await apply(entry.from === null ? null : current, patch);
        currentHash = entry.to;
      } catch (error) {
        // `current` is a new model each step; the held one was never touched.
        const code: WeightsErrorCode =
          error instanceof PulseError && error.code === 'hash-mismatch' ? 'hash-mismatch' : 'corrupt';
        return fail(code, `rejected ${entry.from ?? 'anchor'} → ${entry.to}: ${messageOf(error)}`);
      }
      added.push({
        from: entry.from,
        to: entry.to,
        bytes: entry.payload.length,
        version: header.version,
        payload: entry.payload,
      });
    }
    try {
      await this.store.commit(modelId, header.target, header.version, current!, added);
    } catch (error) {
      return fail('storage', `could not store ${header.target}: ${messageOf(error)}`);
    }
    this.held.set(modelId, { hash: header.target, version: header.version, model: current! });
    this.view.update((v) => ({ ...v, bytesReceived: v.bytesReceived + body.length }));
    await this.refresh();
    const ack: WeightsHeader = { type: 'weights-ack', modelId, hash: header.target };
    await this.reply(source, ack);
    // Forwarded to us: our requester learns from us, not from the forwarder's word.
    if (source.kind === 'co-provider') {
      const requester = this.requesterLinks.get(linkKey(this.coLinks.requesters.get(source.jobId) ?? '', source.jobId));
      if (requester) await this.reply({ kind: 'requester', ...requester }, ack);
    }
  }

  /** Brings co-provider `to` up to `hash` over our own link, then tells the requester how many bytes that took. */
  private async forward(requester: Source, modelId: string, hash: string, to: string): Promise<void> {
    const failed = (reason: string) =>
      this.reply(requester, {
        type: 'weights-error',
        modelId,
        code: 'forward-failed',
        reason: reason.slice(0, 1024),
        peerId: to,
      });
    try {
      const held = await this.model(modelId);
      if (held?.hash !== hash) return void (await failed(`holds ${held?.hash ?? 'nothing'}, not ${hash}`));
      const link = await this.withTimeout(this.coLinks.connect(requester.jobId, to), 'link');
      const co: Source = {
        kind: 'co-provider',
        peerId: to,
        jobId: requester.jobId,
        send: (b) => link.send(PeerStream.weights, b),
      };
      const have = this.expect(co, modelId, 'weights-have');
      await this.reply(co, { type: 'weights-offer', modelId, version: held.version, hash });
      const answer = await have;
      if (answer.type !== 'weights-have') throw new WeightsError('forward-failed', `answered ${answer.type}`);
      const index = await this.store.index(modelId);
      const anchor = await this.store.anchor(modelId, hash);
      const catalog = [
        ...(index?.entries ?? []),
        ...(anchor ? [{ from: null, to: hash, bytes: anchor.length, version: held.version }] : []),
      ];
      const path = planFrom(catalog, answer.held, hash);
      if (path.length === 0)
        return void (await this.reply(requester, { type: 'weights-forwarded', modelId, hash, peerId: to, bytes: 0 }));
      const payloads = [];
      for (const e of path) {
        const payload =
          e.from === null && e.to === hash && anchor ? anchor : await this.store.entry(modelId, e.from, e.to);
        if (!payload)
          throw new WeightsError('forward-failed', `entry ${e.from ?? 'anchor'} → ${e.to} is gone from the store`);
        payloads.push({ from: e.from, to: e.to, payload });
      }
      const { entries, body } = packEntries(payloads);
      const done = this.expect(co, modelId, 'weights-ack');
      const bytes = encodeWeightsMessage(
        { type: 'weights-patch', modelId, version: held.version, target: hash, entries },
        body,
      );
      await co.send(bytes);
      const result = await done;
      if (result.type !== 'weights-ack')
        throw new WeightsError(
          'forward-failed',
          result.type === 'weights-error' ? result.reason : `answered ${result.type}`,
        );
      this.view.update((v) => ({ ...v, bytesForwarded: v.bytesForwarded + bytes.length }));
      await this.reply(requester, { type: 'weights-forwarded', modelId, hash, peerId: to, bytes: bytes.length });
    } catch (error) {
      this.note(`forward of ${modelId} to ${to.slice(0, 8)} failed: ${messageOf(error)}`);
      await failed(messageOf(error));
    }
  }

  /** The next have/ack/error from `co` about `modelId` (an error ends any wait). */
  private expect(co: Source, modelId: string, type: 'weights-have' | 'weights-ack'): Promise<WeightsHeader> {
    const k = `${co.jobId} ${co.peerId} ${modelId}`;
    const answer = new Promise<WeightsHeader>((resolve) => {
      this.waiters.set(k, (header) => {
        if (header.type !== type && header.type !== 'weights-error') return;
        this.waiters.delete(k);
        resolve(header);
      });
    });
    return this.withTimeout(answer, type);
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    const ms = this.deps.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout>;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WeightsError('forward-failed', `no ${what} within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  private async reply(to: Source, header: WeightsHeader): Promise<void> {
    try {
      await to.send(encodeWeightsMessage(header));
    } catch (error) {
      this.note(`could not send ${header.type} to ${to.peerId.slice(0, 8)}: ${messageOf(error)}`);
    }
  }

  private note(lastError: string): void {
    this.view.update((v) => ({ ...v, lastError }));
  }

  private async refresh(): Promise<void> {
    const models = (await this.store.indexes()).map((i) => ({
      modelId: i.modelId,
      hash: i.held,
      version: i.version,
      updatedAt: i.updatedAt,
    }));
    this.view.update((v) => ({ ...v, models }));
  }
}
