import { describe, expect, it } from 'vitest';
import { ContributionStore } from './contribution-store';
import { memoryStore } from './kv';

describe('contribution store', () => {
  it('CONTRIB1: units done survive a reload, tallied by UTC day', async () => {
    const kv = memoryStore();
    let now = Date.UTC(2026, 11, 3, 23, 59);
    const store = new ContributionStore(kv, () => now);
    await store.record(8, 100);
    now += 2 * 60_000;
    await Promise.all([store.record(8, 50), store.record(4, 50)]);
    const reloaded = new ContributionStore(kv, () => now);
    expect(await reloaded.load()).toBe(0);
    expect(reloaded.lifetime()).toEqual({ units: 3, rows: 20, computeMs: 200 });
    expect(reloaded.byDay().map((d) => [d.day, d.units])).toEqual([
      ['2026-12-03', 1],
      ['2026-12-04', 2],
    ]);
  });

  it('CONTRIB2: stored tallies that do not validate, or sit under another day, are skipped', async () => {
    const kv = memoryStore();
    kv.map.set('contribution:2026-12-01', { day: '2026-12-01', units: -1, rows: 0, computeMs: 0 });
    kv.map.set('contribution:2026-12-02', { day: '2026-12-09', units: 5, rows: 0, computeMs: 0 });
    kv.map.set('contribution:2026-12-03', { day: '2026-12-03', units: 2, rows: 3, computeMs: 4 });
    const store = new ContributionStore(kv);
    expect(await store.load()).toBe(2);
    expect(store.lifetime().units).toBe(2);
  });
});
