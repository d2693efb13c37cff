import { describe, expect, it } from 'vitest';
import {
  apply,
  decode,
  findChangesCpu,
  hashModel,
  hashToHex,
  NoPathError,
  planPath,
  VersionChain,
  type CatalogEntry,
  type Model,
  type TensorData,
} from './index';
import { modelsBitEqual, perturb, randomModel } from './testing';

const e = (from: string | null, to: string, bytes: number): CatalogEntry => ({ from, to, bytes });

describe('PULSE chains', () => {
  it('PULSE17: walks patches when they are cheaper than the anchor', () => {
    const catalog = [e(null, 'v0', 1000), e('v0', 'v1', 10), e('v1', 'v2', 10), e('v2', 'v3', 10)];
    expect(planPath(catalog, 'v1', 'v3')).toEqual([catalog[2], catalog[3]]);
    expect(planPath(catalog, null, 'v3')).toEqual(catalog);
  });

  it('PULSE17: takes a later anchor plus patches when the patch chain is longer in bytes', () => {
    const catalog = [
      e(null, 'v0', 1000),
      ...Array.from({ length: 10 }, (_, i) => e(`v${i}`, `v${i + 1}`, 150)),
      e(null, 'v10', 1000),
      e('v10', 'v11', 150),
    ];
    const path = planPath(catalog, 'v1', 'v11');
    expect(path.map((x) => `${x.from}->${x.to}`)).toEqual(['null->v10', 'v10->v11']);
    expect(planPath(catalog, 'v8', 'v11').map((x) => x.to)).toEqual(['v9', 'v10', 'v11']);
  });

  it('PULSE17: equal bytes prefer fewer steps; held == target is empty; unreachable throws NoPathError', () => {
    const catalog = [e('a', 'b', 5), e('b', 'c', 5), e('a', 'c', 10)];
    expect(planPath(catalog, 'a', 'c')).toEqual([catalog[2]]);
    expect(planPath(catalog, 'c', 'c')).toEqual([]);
    expect(() => planPath(catalog, 'c', 'a')).toThrow(NoPathError);
    expect(() => planPath(catalog, null, 'b')).toThrow(NoPathError);
  });

  it('PULSE17: the plan is the cheapest over every simple path (random catalogs)', () => {
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const nodes = ['a', 'b', 'c', 'd', 'e'];
      const catalog: CatalogEntry[] = [];
      for (const from of [null, ...nodes])
        for (const to of nodes) if (from !== to && rand() < 0.35) catalog.push(e(from, to, Math.floor(rand() * 50)));
      const cost = (p: CatalogEntry[]): number => p.reduce((s, x) => s + x.bytes, 0);
      // Brute force over simple paths.
      let bestCost = Infinity;
      const walk = (at: string | null, seen: Set<string>, spent: number): void => {
        if (at === 'e') bestCost = Math.min(bestCost, spent);
        for (const x of catalog)
          if ((x.from === at || x.from === null) && !seen.has(x.to))
            walk(x.to, new Set([...seen, x.to]), spent + x.bytes);
      };
      walk('a', new Set(['a']), 0);
      if (bestCost === Infinity) expect(() => planPath(catalog, 'a', 'e')).toThrow(NoPathError);
      else {
        const plan = planPath(catalog, 'a', 'e');
        expect(cost(plan)).toBe(bestCost);
        // The plan is a connected walk from a (or an anchor) to e.
        plan.forEach((x, i) => expect(x.from === null || x.from === (i === 0 ? 'a' : plan[i - 1]!.to)).toBe(true));
        expect(plan.at(-1)!.to).toBe('e');
      }
    }
  });

  it('PULSE16: VersionChain anchors every N versions, patches between, and a late joiner reconstructs the newest', async () => {
    const chain = new VersionChain(3);
    const models: Model[] = [randomModel(1, 'bf16', 32, 32)];
    for (let v = 1; v < 8; v++) models.push(perturb(models[v - 1]!, 100 + v, 0.01));
    for (const m of models) await chain.publish(m);
    const catalog = chain.catalog();
    expect(catalog.filter((x) => x.from === null).map((x) => x.version)).toEqual([0, 3, 6]);
    expect(catalog.filter((x) => x.from !== null).map((x) => x.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const hashes = await Promise.all(models.map(async (m) => hashToHex(await hashModel(m))));
    for (const held of [null, 0, 2, 5]) {
      let model: Model | null = held === null ? null : models[held]!;
      const path = planPath(catalog, held === null ? null : hashes[held]!, hashes[7]!);
      for (const step of path) model = await apply(step.from === null ? null : model, decode(step.payload));
      expect(modelsBitEqual(model!, models[7]!)).toBe(true);
    }
  });

  it('PULSE16: publish passes diff options through (a custom change finder) and maxEntries keeps the newest entries', async () => {
    const calls: number[] = [];
    const finder = (a: TensorData, b: TensorData): Uint32Array => {
      calls.push(a.length);
      return findChangesCpu(a, b);
    };
    const plain = new VersionChain(2);
    const custom = new VersionChain(2, 3);
    const models: Model[] = [randomModel(4, 'f16', 16, 16)];
    for (let v = 1; v < 5; v++) models.push(perturb(models[v - 1]!, 200 + v, 0.05));
    for (const m of models) {
      const a = await plain.publish(m);
      const b = await custom.publish(m, { findChanges: finder });
      expect(b.entries.map((x) => Buffer.from(x.payload).toString('hex'))).toEqual(
        a.entries.map((x) => Buffer.from(x.payload).toString('hex')),
      );
    }
    expect(calls.length).toBe(4 * models[0]!.tensors.length);
    expect(custom.catalog()).toEqual(plain.catalog().slice(-3));
    expect(custom.latest).toEqual({ version: 4, hash: hashToHex(await hashModel(models[4]!)) });
  });
});
