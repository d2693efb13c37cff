export { Hub } from './hub';
export { DEFAULT_LIMITS, type HubLimits, type HubOptions } from './options';
