/** Tunables of the browser diff paths. */

/**
 * Workgroup size of the compaction kernels: 256 is WebGPU's guaranteed minimum
 * for maxComputeInvocationsPerWorkgroup and maxComputeWorkgroupSizeX, so it
 * runs everywhere; the adapter's limits can only lower it.
 */
export const PREFERRED_WORKGROUP_SIZE = 256;
