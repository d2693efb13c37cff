/**
 * Requester side of weight distribution (a LinkExtension on every job's
 * provider links). `publish(modelId, model)` makes the next version; each
 * provider says what it holds and gets only the cheapest chain from there.
 * With forwarding on, one provider per job (the seed) gets the chain from us
 * and brings its co-providers up over their own links, so our upload does not
 * grow with the number of providers; a failed forward falls back to a direct send.
 */
import {
  decodeWeightsMessage,
  encodeWeightsMessage,
  packEntries,
  type WeightsHeader,
  type WeightsHeaderOf,
} from '@shared/protocol';
import type { ChangeFinder, Model, PublishedEntry } from '@shared/pulse';
import { Observable } from '../core/emitter';
import type { ExtensionChannel, LinkExtension } from '../core/ports';
import { planFrom, PublisherChain } from './chain';
import { MAX_PUBLISHED_ENTRIES } from './constants';
import { messageOf } from '@shared/errors';

export type ProviderWeightsState = 'offered' | 'sending' | 'forwarding' | 'current' | 'error';

export interface ProviderWeightsView {
  peerId: string;
  jobId: string;
  /** The version it last said it holds (hash), or null. */
  held: string | null;
  state: ProviderWeightsState;
  /** Bytes we sent this provider, all versions. */
  bytesSent: number;
  /** The co-provider that forwarded it the current version, if one did. */
  via?: string;
  error?: string;
}

export interface VersionView {
  version: number;
  hash: string;
  /** What the chain published for it (patch and/or anchor), in bytes. */
  entryBytes: number;
  /** Everything we uploaded for it: offers, patches, forward requests. */
  bytesSent: number;
  /** Bytes providers forwarded to each other for it. */
  relayedBytes: number;
}

export interface PublishedModelView {
  modelId: string;
  version: number;
  hash: string;
  versions: VersionView[];
  providers: ProviderWeightsView[];
}

export interface PublisherView {
  models: PublishedModelView[];
}

export interface PublisherOptions {
  /** How the diff finds changed positions: the Web Worker differ in the browser, the CPU scan when absent. Made on first publish. */
  findChanges?: () => ChangeFinder;
  /** Ask one provider per job to forward to the others (default true). */
  forward?: boolean;
  anchorInterval?: number;
}

interface Seed {
  peerId: string;
  acked: boolean;
  waiting: Set<string>;
}

interface ModelState {
  chain: PublisherChain;
  target: { version: number; hash: string } | null;
  versions: Map<number, VersionView>;
  providers: Map<string, ProviderWeightsView>;
  /** Per `${jobId} ${hash}`: the provider we upload to and who waits for it to forward. */
  seeds: Map<string, Seed>;
}

const linkKey = (peerId: string, jobId: string) => `${jobId} ${peerId}`;

export class WeightsPublisher implements LinkExtension {
  readonly view = new Observable<PublisherView>({ models: [] });
  private readonly channels = new Map<string, ExtensionChannel>();
  private readonly models = new Map<string, ModelState>();
  private findChanges?: ChangeFinder;

  constructor(private readonly options: PublisherOptions = {}) {}

  /** Publishes the next version of `modelId` to every attached provider (and to any that attach later). */
  async publish(modelId: string, model: Model): Promise<{ version: number; hash: string }> {
    if (this.findChanges === undefined && this.options.findChanges) this.findChanges = this.options.findChanges();
    let state = this.models.get(modelId);
    if (!state) {
      state = {
        chain: new PublisherChain(this.findChanges, this.options.anchorInterval),
        target: null,
        versions: new Map(),
        providers: new Map(),
        seeds: new Map(),
      };
      this.models.set(modelId, state);
    }
    const published = await state.chain.publish(model);
    if (state.target?.hash === published.hash) return state.target;
    state.target = { version: published.version, hash: published.hash };
    state.seeds.clear();
    state.versions.set(published.version, {
      version: published.version,
      hash: published.hash,
      entryBytes: published.entries.reduce((s, e) => s + e.bytes, 0),
      bytesSent: 0,
      relayedBytes: 0,
    });
    // The view keeps as many versions as the chain keeps entries for: older ones can no longer be served by patch anyway.
    for (const old of [...state.versions.keys()])
      if (old <= published.version - MAX_PUBLISHED_ENTRIES) state.versions.delete(old);
    for (const channel of this.channels.values()) this.offer(modelId, state, channel);
    this.refresh();
    return state.target;
  }

  attach(channel: ExtensionChannel): void {
    this.channels.set(linkKey(channel.peerId, channel.jobId), channel);
    for (const [modelId, state] of this.models) this.offer(modelId, state, channel);
    this.refresh();
  }

  detach(peerId: string, jobId: string): void {
    const key = linkKey(peerId, jobId);
    this.channels.delete(key);
    for (const [modelId, state] of this.models) {
      state.providers.delete(key);
      // Whoever waited on a seed that left is sent to directly (they re-offer to learn what they hold).
      for (const [seedKey, seed] of state.seeds) {
        if (seed.peerId !== peerId || !seedKey.startsWith(`${jobId} `)) continue;
        state.seeds.delete(seedKey);
        for (const waiting of seed.waiting) {
          const channel = this.channels.get(linkKey(waiting, jobId));
          if (channel) this.offer(modelId, state, channel);
        }
      }
    }
    this.refresh();
  }

  receive(peerId: string, jobId: string, bytes: Uint8Array): void {
    let header: WeightsHeader;
    try {
      header = decodeWeightsMessage(bytes).header;
    } catch (error) {
      return this.markError(peerId, jobId, null, `bad message: ${messageOf(error)}`);
    }
    const state = this.models.get(header.modelId);
    const provider = state?.providers.get(linkKey(peerId, jobId));
    if (!state || !provider) return;
    switch (header.type) {
      case 'weights-have':
        return this.onHave(header.modelId, state, provider, header.held);
      case 'weights-ack':
        return this.onAck(header.modelId, state, provider, header.hash);
      case 'weights-forwarded': {
        const version = [...state.versions.values()].find((ver) => ver.hash === header.hash);
        if (version) version.relayedBytes += header.bytes;
        const other = state.providers.get(linkKey(header.peerId, jobId));
        if (other) other.via = peerId;
        return this.refresh();
      }
      case 'weights-error':
        return this.onError(header, state, provider);
      default:
        return this.markError(peerId, jobId, header.modelId, `unexpected ${header.type} from a provider`);
    }
  }

  private offer(modelId: string, state: ModelState, channel: ExtensionChannel): void {
    if (!state.target) return;
    const key = linkKey(channel.peerId, channel.jobId);
    const previous = state.providers.get(key);
    state.providers.set(key, {
      peerId: channel.peerId,
      jobId: channel.jobId,
      held: previous?.held ?? null,
      state: 'offered',
      bytesSent: previous?.bytesSent ?? 0,
    });
    this.send(state, channel, {
      type: 'weights-offer',
      modelId,
      version: state.target.version,
      hash: state.target.hash,
    });
  }

  private onHave(modelId: string, state: ModelState, provider: ProviderWeightsView, held: readonly string[]): void {
    const target = state.target!;
    provider.held = held[0] ?? null;
    if (held.includes(target.hash)) return this.onAck(modelId, state, provider, target.hash);
    const seedKey = `${provider.jobId} ${target.hash}`;
    const seed = state.seeds.get(seedKey);
    if (this.options.forward !== false && seed && seed.peerId !== provider.peerId) {
      provider.state = 'forwarding';
      if (seed.acked) this.requestForward(modelId, state, provider.jobId, seed.peerId, [provider.peerId]);
      else seed.waiting.add(provider.peerId);
      return this.refresh();
    }
    if (this.options.forward !== false)
      state.seeds.set(seedKey, { peerId: provider.peerId, acked: false, waiting: new Set() });
    this.sendDirect(modelId, state, provider, held);
  }

  private sendDirect(modelId: string, state: ModelState, provider: ProviderWeightsView, held: readonly string[]): void {
    const channel = this.channels.get(linkKey(provider.peerId, provider.jobId));
    const target = state.target!;
    if (!channel) return;
    let path: PublishedEntry[];
    try {
      path = planFrom(state.chain.catalog(), held, target.hash);
    } catch (error) {
      return this.markError(provider.peerId, provider.jobId, modelId, messageOf(error));
    }
    const { entries, body } = packEntries(path);
    provider.state = 'sending';
    this.send(
      state,
      channel,
      { type: 'weights-patch', modelId, version: target.version, target: target.hash, entries },
      body,
    );
  }

  private onAck(modelId: string, state: ModelState, provider: ProviderWeightsView, hash: string): void {
    provider.held = hash;
    if (hash === state.target?.hash) {
      provider.state = 'current';
      provider.error = undefined;
      const seed = state.seeds.get(`${provider.jobId} ${hash}`);
      if (seed?.peerId === provider.peerId && !seed.acked) {
        seed.acked = true;
        if (seed.waiting.size > 0) this.requestForward(modelId, state, provider.jobId, seed.peerId, [...seed.waiting]);
        seed.waiting.clear();
      }
    }
    this.refresh();
  }

  private requestForward(modelId: string, state: ModelState, jobId: string, seedId: string, to: string[]): void {
    const channel = this.channels.get(linkKey(seedId, jobId));
    if (channel) this.send(state, channel, { type: 'weights-forward', modelId, hash: state.target!.hash, to });
  }

  private onError(header: WeightsHeaderOf<'weights-error'>, state: ModelState, provider: ProviderWeightsView): void {
    if (header.code === 'forward-failed' && header.peerId) {
      // The seed could not reach a co-provider: send to it ourselves, from what it last said it holds.
      const other = state.providers.get(linkKey(header.peerId, provider.jobId));
      if (other && other.state !== 'current')
        this.sendDirect(header.modelId, state, other, other.held ? [other.held] : []);
      return this.refresh();
    }
    provider.state = 'error';
    provider.error = `${header.code}: ${header.reason}`;
    this.refresh();
  }

  private markError(peerId: string, jobId: string, modelId: string | null, reason: string): void {
    for (const [id, state] of this.models) {
      if (modelId !== null && id !== modelId) continue;
      const provider = state.providers.get(linkKey(peerId, jobId));
      if (provider) Object.assign(provider, { state: 'error', error: reason });
    }
    this.refresh();
  }

  private send(state: ModelState, channel: ExtensionChannel, header: WeightsHeader, body?: Uint8Array): void {
    const bytes = encodeWeightsMessage(header, body);
    const version = state.target && state.versions.get(state.target.version);
    if (version) version.bytesSent += bytes.length;
    const provider = state.providers.get(linkKey(channel.peerId, channel.jobId));
    if (provider) provider.bytesSent += bytes.length;
    channel
      .send(bytes)
      .catch((error: unknown) =>
        this.markError(channel.peerId, channel.jobId, header.modelId, `send failed: ${messageOf(error)}`),
      );
  }

  private refresh(): void {
    const models: PublishedModelView[] = [];
    for (const [modelId, state] of this.models) {
      if (!state.target) continue;
      models.push({
        modelId,
        version: state.target.version,
        hash: state.target.hash,
        versions: [...state.versions.values()].map((ver) => ({ ...ver })),
        providers: [...state.providers.values()].map((p) => ({ ...p })),
      });
    }
    this.view.set({ models });
  }
}
