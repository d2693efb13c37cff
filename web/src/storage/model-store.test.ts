/**
 * The one model store: versions by hash, frames shared, everything proven on
 * read, a quota with least-recently-used eviction, and the old releases' keys
 * dropped with a count.
 */
import { describe, expect, it } from 'vitest';
import { modelVersion, splitOnnx } from '@shared/tensor';
import { affineModel } from '../testing/affine-job';
import { memoryStore } from './kv';
import { ModelStore } from './model-store';

const ballast = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed));

describe('ModelStore', () => {
  it('MS1: a stored version comes back as the same model; two versions of one graph share one frame', async () => {
    const kv = memoryStore();
    const store = new ModelStore(kv);
    const v1 = await store.putOnnx(affineModel(2, 1));
    const v2 = await store.putOnnx(affineModel(2, 1.5));
    expect(v1.frameHash).toBe(v2.frameHash);
    expect(v1.hash).not.toBe(v2.hash);
    expect(await store.held(v1.frameHash)).toEqual(expect.arrayContaining([v1.hash, v2.hash]));
    const back = splitOnnx((await store.onnx(v2.hash))!);
    expect(back.weights).toEqual(v2.parts.weights);
    expect(back.frame).toEqual(v2.parts.frame);
    expect((await modelVersion((await store.onnx(v1.hash))!)).hash).toBe(v1.hash);
    expect(await kv.keys('models/frame/')).toHaveLength(1);
  });

  it('MS2: a tampered frame or anchor is not trusted: the version is forgotten, never loaded', async () => {
    const kv = memoryStore();
    const store = new ModelStore(kv);
    const v = await store.putOnnx(affineModel(2, 1));
    const anchorKey = `models/weights/${v.hash}`;
    const anchor = (kv.map.get(anchorKey) as Uint8Array).slice();
    anchor[anchor.length - 1]! ^= 1;
    kv.map.set(anchorKey, anchor);
    expect(await store.onnx(v.hash)).toBeUndefined();
    expect(await store.has(v.hash)).toBe(false);

    const w = await store.putOnnx(affineModel(3, 1));
    const frameKey = `models/frame/${w.frameHash}`;
    const frame = (kv.map.get(frameKey) as Uint8Array).slice();
    frame[0]! ^= 1;
    kv.map.set(frameKey, frame);
    expect(await store.version(w.hash)).toBeUndefined();
    expect(await store.has(w.hash)).toBe(false);
  });

  it('MS3: over its quota the least recently used version goes; a frame stays while a version uses it', async () => {
    let clock = 0;
    const kv = memoryStore();
    const store = new ModelStore(kv, { quotaBytes: 70_000, now: () => ++clock });
    const a = await store.putOnnx(affineModel(1, 1, ballast(8000, 1))); // ~32 kB of weights each
    const b = await store.putOnnx(affineModel(1, 2, ballast(8000, 2)));
    await store.touch(a.hash); // a is now the more recently used
    const c = await store.putOnnx(affineModel(1, 3, ballast(8000, 3)));
    expect(await store.has(b.hash)).toBe(false);
    expect(await store.has(a.hash)).toBe(true);
    expect(await store.has(c.hash)).toBe(true);
    expect(await store.bytes()).toBeLessThanOrEqual(70_000);
    expect(await store.frame(a.frameHash)).toBeDefined();

    const few = new ModelStore(memoryStore(), { maxVersions: 2, now: () => ++clock });
    for (const bias of [1, 2, 3]) await few.putOnnx(affineModel(1, bias));
    expect(await few.list()).toHaveLength(2);
  });

  it('MS4: what earlier releases stored is dropped, and counted so the page can say so', async () => {
    const kv = memoryStore();
    await kv.set(`model:${'a'.repeat(64)}`, new Uint8Array(4));
    await kv.set('weights/index/demo', {});
    await kv.set('job:x:spec', {});
    const store = new ModelStore(kv);
    expect(await store.migrate()).toBe(2);
    expect([...kv.map.keys()]).toEqual(['job:x:spec']);
  });
});
