/**
 * Starts this tab as a Basilica provider, once per page: identity from
 * IndexedDB, capability probe and benchmark, compute worker, signaling.
 * Each step reports progress so the page can show what is happening.
 */
import type { Identity } from '@shared/identity';
import { connectSignaling, webrtcPeers, workerEngine } from '../app/runtime';
import { detectCapabilities, type CapabilityReport } from '../compute';
import { Observable } from '../core/emitter';
import { loadOrCreateIdentity } from '../storage/identity-store';
import { idbStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { ProviderReceipts } from '../storage/receipt-store';
import { ProviderNode } from './provider-node';
import { exposeCache, WeightsCache } from '../weights';
import { messageOf } from '@shared/errors';

export type BootStep = 'identity' | 'benchmark' | 'worker' | 'connect' | 'ready' | 'failed';

export interface BootView {
  step: BootStep;
  identity?: Identity;
  identityCreated?: boolean;
  report?: CapabilityReport;
  cachedModels?: number;
  error?: string;
}

export interface ProviderRuntime {
  boot: Observable<BootView>;
  node: Promise<ProviderNode>;
  /** PULSE weights this tab holds and forwards (for WeightsHeld). */
  weights: Promise<WeightsCache>;
}

let runtime: ProviderRuntime | undefined;

export function startProvider(): ProviderRuntime {
  if (runtime) return runtime;
  const boot = new Observable<BootView>({ step: 'identity' });
  const patch = (change: Partial<BootView>) => boot.set({ ...boot.get(), ...change });
  let resolveWeights!: (cache: WeightsCache) => void;
  const weights = new Promise<WeightsCache>((resolve) => (resolveWeights = resolve));
  const node = (async () => {
    const kv = idbStore();
    const { identity, created } = await loadOrCreateIdentity(kv, 'provider');
    const models = new ModelStore(kv);
    patch({ identity, identityCreated: created, cachedModels: (await models.list()).length, step: 'benchmark' });
    const report = await detectCapabilities();
    patch({ report, step: 'worker' });
    const compute = await workerEngine(report.capabilities.backend);
    patch({ step: 'connect' });
    const { client, port } = connectSignaling('provider', identity);
    const createPeer = webrtcPeers(client);
    const weights = new WeightsCache({ store: kv, signaling: port, createPeer });
    // Subscribes before the node so it sees every `matched`; the store listing may finish later.
    void weights.start();
    resolveWeights(weights);
    exposeCache(weights);
    const provider = new ProviderNode({
      signaling: port,
      createPeer,
      compute,
      models,
      capabilities: report.capabilities,
      extension: weights,
      identity,
      receipts: new ProviderReceipts(kv, identity.peerId),
    });
    provider.start();
    client.connect();
    patch({ step: 'ready' });
    return provider;
  })();
  node.catch((error: unknown) =>
    patch({ step: 'failed', error: error instanceof Error ? error.message : messageOf(error) }),
  );
  runtime = { boot, node, weights };
  return runtime;
}
