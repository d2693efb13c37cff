/**
 * A small handle on `window.basilicaWeights` for the e2e test and for trying
 * weight distribution from the devtools console until the dashboard mounts
 * WeightsPanel. It exposes only what the page itself can already do.
 *
 *   requester page: basilicaWeights.publishDemo(fraction?) → {version, hash}; basilicaWeights.publisher.view.get()
 *   provider page:  basilicaWeights.cache.view.get(); await basilicaWeights.rehash('demo') → hex of the held model, recomputed
 */
import { hashModel, hashToHex } from '@shared/pulse';
import type { WeightsCache } from './cache';
import { demoSeries } from './demo';
import type { WeightsPublisher } from './publisher';

export interface WeightsHook {
  publisher?: WeightsPublisher;
  publishDemo?: (fraction?: number) => Promise<{ version: number; hash: string }>;
  cache?: WeightsCache;
  rehash?: (modelId: string) => Promise<string | null>;
}

declare global {
  interface Window {
    basilicaWeights?: WeightsHook;
  }
}

export function exposePublisher(publisher: WeightsPublisher): void {
  if (typeof window === 'undefined') return;
  const series = demoSeries((id, model) => publisher.publish(id, model));
  window.basilicaWeights = { ...window.basilicaWeights, publisher, publishDemo: (fraction) => series.next(fraction) };
}

export function exposeCache(cache: WeightsCache): void {
  if (typeof window === 'undefined') return;
  const rehash = async (modelId: string) => {
    const held = await cache.model(modelId);
    return held && hashToHex(await hashModel(held.model));
  };
  window.basilicaWeights = { ...window.basilicaWeights, cache, rehash };
}
