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
import { formatBytes } from '@shared/tensor';
import { messageOf } from '@shared/errors';

export type BootStep = 'identity' | 'benchmark' | 'worker' | 'connect' | 'ready' | 'failed';

export interface BootView {
  step: BootStep;
  identity?: Identity;
  identityCreated?: boolean;
  report?: CapabilityReport;
  cachedModels?: number;
  /** What the model store holds, and what an earlier release's caches held that was dropped. */
  modelNote?: string;
  error?: string;
}

export interface ProviderRuntime {
  boot: Observable<BootView>;
  node: Promise<ProviderNode>;
}

let runtime: ProviderRuntime | undefined;

export function startProvider(): ProviderRuntime {
  if (runtime) return runtime;
  const boot = new Observable<BootView>({ step: 'identity' });
  const patch = (change: Partial<BootView>) => boot.set({ ...boot.get(), ...change });
  const node = (async () => {
    const kv = idbStore();
    const { identity, created } = await loadOrCreateIdentity(kv, 'provider');
    const models = new ModelStore(kv);
    const dropped = await models.migrate();
    const held = await models.list();
    const modelNote =
      `${formatBytes(await models.bytes())} on disk` +
      (dropped > 0
        ? `; ${dropped} entries cached by an earlier release were dropped and are fetched again when needed`
        : '');
    patch({ identity, identityCreated: created, cachedModels: held.length, modelNote, step: 'benchmark' });
    const report = await detectCapabilities();
    patch({ report, step: 'worker' });
    const compute = await workerEngine(report.capabilities.backend);
    patch({ step: 'connect' });
    const { client, port } = connectSignaling('provider', identity);
    const createPeer = webrtcPeers(client);
    const provider = new ProviderNode({
      signaling: port,
      createPeer,
      compute,
      models,
      capabilities: report.capabilities,
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
  runtime = { boot, node };
  return runtime;
}
