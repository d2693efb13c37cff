import { describe, expect, it } from 'vitest';
import type { Capabilities } from '@shared/protocol';
import { memoryStore } from '../storage/kv';
import {
  DEFAULT_LIMITS,
  dutySleepMs,
  limitedCapabilities,
  pauseReason,
  WorkLimitsStore,
  type LimitsChannel,
} from './work-limits';

/** Two BroadcastChannel ends of one origin: a message posted on one arrives on the other, not on itself. */
function channelPair(): [LimitsChannel, LimitsChannel] {
  const a: LimitsChannel = { postMessage: (data) => b.onmessage?.({ data }), onmessage: null, close() {} };
  const b: LimitsChannel = { postMessage: (data) => a.onmessage?.({ data }), onmessage: null, close() {} };
  return [a, b];
}

const caps: Capabilities = {
  backend: 'webgpu',
  gflops: 40,
  measured: { webgpu: 40, wasm: 10 },
  features: [],
  maxBufferBytes: 1024,
  wasm: { simd: true, threads: true, cores: 4 },
};

describe('work limits', () => {
  it('LIMITS1: limits and Pause survive a reload (a new store over the same IndexedDB)', async () => {
    const kv = memoryStore();
    const first = await WorkLimitsStore.open(kv);
    expect(first.limits.get()).toEqual(DEFAULT_LIMITS);
    await first.update({ dutyPercent: 50, paused: true, threads: 2 });
    const reloaded = await WorkLimitsStore.open(kv);
    expect(reloaded.limits.get()).toMatchObject({ dutyPercent: 50, paused: true, threads: 2 });
    expect(reloaded.problem).toBeUndefined();
  });

  it('LIMITS2: a change in one tab reaches every other tab of the browser', async () => {
    const kv = memoryStore();
    const [ca, cb] = channelPair();
    const tabA = await WorkLimitsStore.open(kv, ca);
    const tabB = await WorkLimitsStore.open(kv, cb);
    await tabA.update({ webgpu: false, paused: true });
    expect(tabB.limits.get()).toMatchObject({ webgpu: false, paused: true });
  });

  it('LIMITS3: stored or broadcast values that do not validate are refused', async () => {
    const kv = memoryStore();
    kv.map.set('work-limits', { ...DEFAULT_LIMITS, dutyPercent: 0, __proto__: { paused: true } });
    const [ca, cb] = channelPair();
    const tab = await WorkLimitsStore.open(kv, cb);
    expect(tab.limits.get()).toEqual(DEFAULT_LIMITS);
    expect(tab.problem).toMatch(/defaults apply/);
    ca.postMessage({ type: 'limits', limits: { ...DEFAULT_LIMITS, threads: 1e9 } });
    ca.postMessage({ type: 'limits', limits: { ...DEFAULT_LIMITS, extra: 1 } });
    expect(tab.limits.get()).toEqual(DEFAULT_LIMITS);
    await expect(tab.update({ dutyPercent: 5 })).rejects.toThrow();
    expect(tab.limits.get()).toEqual(DEFAULT_LIMITS);
  });

  it('LIMITS4: duty cycle rests in proportion to the compute time of the unit', () => {
    expect(dutySleepMs(200, 100)).toBe(0);
    expect(dutySleepMs(200, 50)).toBe(200);
    expect(dutySleepMs(200, 25)).toBe(600);
    expect(dutySleepMs(0, 25)).toBe(0);
  });

  it('LIMITS5: power and visibility rules, with Pause first and no battery API meaning no power rule', () => {
    const limits = { ...DEFAULT_LIMITS, mainsOnly: true, minBatteryPercent: 30, pauseWhenHidden: true };
    expect(pauseReason({ ...limits, paused: true }, undefined, false)).toBe('by you');
    expect(pauseReason(limits, undefined, false)).toBeUndefined();
    expect(pauseReason(limits, { charging: false, level: 0.9 }, false)).toBe('on battery');
    expect(pauseReason(limits, { charging: true, level: 0.1 }, false)).toBeUndefined();
    expect(pauseReason({ ...limits, mainsOnly: false }, { charging: false, level: 0.2 }, false)).toBe(
      'battery 20% < 30%',
    );
    expect(pauseReason(limits, { charging: true, level: 1 }, true)).toBe('tab hidden');
  });

  it('LIMITS6: announced capacity follows the backend allowed and the duty cycle', () => {
    expect(limitedCapabilities(caps, DEFAULT_LIMITS)).toMatchObject({ backend: 'webgpu', gflops: 40 });
    expect(limitedCapabilities(caps, { ...DEFAULT_LIMITS, webgpu: false, dutyPercent: 50 })).toMatchObject({
      backend: 'wasm',
      gflops: 5,
    });
  });
});
