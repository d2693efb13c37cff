/**
 * PULSE weight distribution over job links as a LinkExtension, with
 * co-provider forwarding: WeightsPublisher (requester), WeightsCache
 * (provider). Job models no longer use it (they travel in the job protocol,
 * requester/job-model.ts); its chain planning (chain.ts) is shared with them.
 */
export {
  WeightsPublisher,
  type PublisherView,
  type PublishedModelView,
  type ProviderWeightsView,
  type VersionView,
  type PublisherOptions,
} from './publisher';
export { WeightsCache, type CacheView, type HeldModelView, type CacheDeps } from './cache';
export { WeightsError } from './errors';
export { demoModel, nudge, demoSeries } from './demo';
