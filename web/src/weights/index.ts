/** PULSE weight distribution over job links: WeightsPublisher (requester), WeightsCache (provider). */
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
export { exposeCache, exposePublisher, type WeightsHook } from './hook';
