import { describe, expect, it } from 'vitest';
import {
  apply,
  decode,
  diff,
  encode,
  findChangesCpu,
  InvalidModelError,
  snapshot,
  type Model,
  type TensorPatch,
} from './index';
import { cloneModel, modelsBitEqual, perturb, randomModel, tensor } from './testing';

async function roundTrip(base: Model, next: Model): Promise<Model> {
  const bytes = encode(await diff(base, next));
  return apply(base, decode(bytes));
}

describe('PULSE codec', () => {
  it.each(['bf16', 'f16', 'f32'] as const)('PULSE2 PULSE3: %s patch round-trips bit for bit', async (dtype) => {
    const base = randomModel(1, dtype, 40, 50);
    const next = perturb(base, 2, 0.02);
    expect(modelsBitEqual(await roundTrip(base, next), next)).toBe(true);
  });

  it('PULSE2: edge bit patterns (±0, NaN payloads, ±inf, subnormals) survive exactly', async () => {
    const edges16 = [
      0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc1, 0xffff, 0x7f81, 0x0001, 0x8001, 0x007f, 0x3f80, 0x7c00, 0xfc00, 0x7e01,
    ];
    const edges32 = [
      0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00001, 0xffffffff, 0x7f800001, 1, 0x80000001, 0x007fffff, 0x3f800000,
    ];
    for (const dtype of ['bf16', 'f16', 'f32'] as const) {
      const edges = dtype === 'f32' ? edges32 : edges16;
      const n = edges.length;
      // Every edge value turned into every other one.
      const base: Model = { tensors: [tensor('t', dtype, [n, n], (i) => edges[Math.floor(i / n)]!)] };
      const next: Model = { tensors: [tensor('t', dtype, [n, n], (i) => edges[i % n]!)] };
      const patch = await diff(base, next);
      expect(modelsBitEqual(await apply(base, decode(encode(patch))), next)).toBe(true);
      expect(modelsBitEqual(await apply(null, decode(encode(await snapshot(next)))), next)).toBe(true);
    }
  });

  it('PULSE2: +0 → −0 and NaN payload changes count as changes', async () => {
    const base: Model = { tensors: [tensor('t', 'bf16', [3], (i) => [0x0000, 0x7fc0, 0x3f80][i]!)] };
    const next: Model = { tensors: [tensor('t', 'bf16', [3], (i) => [0x8000, 0x7fc1, 0x3f80][i]!)] };
    const patch = await diff(base, next);
    const t = patch.tensors[0]!;
    expect(t.kind === 'full' || t.kind === 'conditioned' ? -1 : Array.from(t.positions)).toEqual([0, 1]);
    expect(modelsBitEqual(await apply(base, decode(encode(patch))), next)).toBe(true);
  });

  it('PULSE4: a snapshot rebuilds the model from nothing and is smaller than raw bf16', async () => {
    const model = randomModel(3, 'bf16', 64, 64);
    const bytes = encode(await snapshot(model));
    const decoded = decode(bytes);
    expect(decoded.baseHash).toBeNull();
    expect(modelsBitEqual(await apply(null, decoded), model)).toBe(true);
    expect(bytes.length).toBeLessThan((64 * 64 + 64) * 2);
  });

  it('PULSE1: scalars, zero-size tensors and empty models round-trip', async () => {
    const base: Model = {
      tensors: [
        tensor('scalar', 'f32', [], () => 0x3f800000),
        tensor('empty', 'bf16', [0, 7], () => 0),
        tensor('v', 'f16', [5], (i) => i),
      ],
    };
    const next: Model = {
      tensors: [
        tensor('scalar', 'f32', [], () => 0x3f800001),
        tensor('empty', 'bf16', [0, 7], () => 0),
        tensor('v', 'f16', [5], (i) => i),
      ],
    };
    expect(modelsBitEqual(await roundTrip(base, next), next)).toBe(true);
    expect(modelsBitEqual(await roundTrip({ tensors: [] }, { tensors: [] }), { tensors: [] })).toBe(true);
  });

  it('PULSE8: added, reshaped and re-typed tensors travel in full; dropped ones disappear; order follows next', async () => {
    const base: Model = {
      tensors: [
        tensor('a', 'bf16', [4, 4], (i) => i),
        tensor('b', 'bf16', [16], (i) => i),
        tensor('gone', 'f32', [3], (i) => i),
      ],
    };
    const next: Model = {
      tensors: [
        tensor('new', 'f16', [2], (i) => i + 7),
        tensor('b', 'bf16', [4, 4], (i) => i),
        tensor('a', 'f32', [4, 4], (i) => i),
      ],
    };
    const patch = await diff(base, next);
    expect(patch.tensors.map((t) => t.kind)).toEqual(['full', 'full', 'full']);
    expect(modelsBitEqual(await apply(base, decode(encode(patch))), next)).toBe(true);
  });

  it('PULSE10: unchanged tensors cost almost nothing and nudged values use ulp deltas', async () => {
    const base = randomModel(4, 'bf16', 64, 64);
    const same = await diff(base, base);
    expect(same.tensors.every((t) => t.kind === 'ulp' && t.positions.length === 0)).toBe(true);
    const nudged = await diff(base, perturb(base, 5, 0.01));
    expect(nudged.tensors[0]!.kind).toBe('ulp');
  });

  it('PULSE7: a tensor without changes gets columns of its own in every patch', async () => {
    const base = randomModel(3);
    const patches = [await diff(base, cloneModel(base)), await diff(base, cloneModel(base))];
    const [a, b] = patches.map((p) => p.tensors[0]!);
    if (a?.kind !== 'ulp' || b?.kind !== 'ulp') throw new Error(`expected ulp patches, got ${a?.kind} and ${b?.kind}`);
    expect(a.positions.length).toBe(0);
    expect(a.positions.buffer).not.toBe(b.positions.buffer);
    // A caller that transfers one patch's columns (to a worker, say) leaves the other's transferable.
    structuredClone(a.positions, { transfer: [a.positions.buffer] });
    expect(() => structuredClone(b.positions, { transfer: [b.positions.buffer] })).not.toThrow();
  });

  it('PULSE10: re-drawn values switch the tensor to raw new values and stay exact', async () => {
    const base = randomModel(6, 'bf16', 64, 64);
    const redrawn = randomModel(7, 'bf16', 64, 64);
    // Every other value re-drawn: raw new values at their positions.
    const next: Model = {
      tensors: base.tensors.map((t, ti) => ({
        ...t,
        data: t.data.map((v, i) => (i % 2 === 0 ? redrawn.tensors[ti]!.data[i]! : v)),
      })),
    };
    const patch = await diff(base, next);
    expect(patch.tensors[0]!.kind).toBe('raw');
    expect(modelsBitEqual(await apply(base, decode(encode(patch))), next)).toBe(true);
  });

  it('PULSE10: a tensor whose values were nearly all re-drawn travels in full, no larger than as raw changes', async () => {
    const base = randomModel(6, 'bf16', 64, 64);
    const next = randomModel(7, 'bf16', 64, 64);
    const changed = next.tensors[0]!.data.filter((v, i) => v !== base.tensors[0]!.data[i]).length;
    expect(changed).toBeGreaterThan(0.99 * 64 * 64);
    expect(changed).toBeLessThan(64 * 64); // a few values equal by chance: full still wins
    const patch = await diff(base, next);
    expect(patch.tensors[0]!.kind).toBe('full');
    const bytes = encode(patch);
    expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
    const viaPlugin = await diff(base, next, { findChanges: findChangesCpu });
    expect(viaPlugin.tensors[0]!.kind).toBe('full');
    // The same change as raw values at their positions.
    const old = base.tensors[0]!.data;
    const values = next.tensors[0]!.data;
    const positions = Uint32Array.from(values.keys()).filter((i) => values[i] !== old[i]);
    const asRaw: TensorPatch = {
      ...patch.tensors[0]!,
      kind: 'raw',
      positions,
      bits: Uint32Array.from(positions, (i) => values[i]!),
    };
    expect(bytes.length).toBeLessThanOrEqual(encode({ ...patch, tensors: [asRaw, ...patch.tensors.slice(1)] }).length);
  });

  it('PULSE10: sign flips are cheap escapes, not huge deltas', async () => {
    const base = randomModel(8, 'bf16', 64, 64);
    const flipped: Model = {
      tensors: base.tensors.map((t) => ({ ...t, data: t.data.map((v, i) => (i % 97 === 0 ? v ^ 0x8000 : v)) })),
    };
    const patch = await diff(base, flipped);
    const t = patch.tensors[0]!;
    expect(t.kind).toBe('ulp');
    const flips = t.kind === 'ulp' ? t.signFlips.reduce((a, b) => a + b, 0) : 0;
    expect(flips).toBe(t.kind === 'ulp' ? t.positions.length : -1);
    expect(modelsBitEqual(await apply(base, decode(encode(patch))), flipped)).toBe(true);
  });

  it('PULSE1: long names sharing long prefixes, multi-byte UTF-8 included, come back exactly', async () => {
    // Front coding over names that outgrow decode's name buffer (256 bytes) in the middle of a shared prefix.
    const stem = 'layers.' + 'a'.repeat(200);
    const names = [
      stem + '.x',
      stem + '.y' + 'é'.repeat(100),
      stem + '.y' + 'é'.repeat(100) + 'z'.repeat(600),
      'short',
      'ß→' + 'ü'.repeat(300),
    ];
    const model = (bump: number): Model => ({
      tensors: names.map((name, t) => tensor(name, 'bf16', [4], (i) => 0x3f80 + i + (i === t % 4 ? bump : 0))),
    });
    const bytes = encode(await diff(model(0), model(1)));
    expect(decode(bytes).tensors.map((t) => t.name)).toEqual(names);
    expect(modelsBitEqual(await apply(model(0), decode(bytes)), model(1))).toBe(true);
  });

  it('PULSE1: malformed models are rejected with InvalidModelError', async () => {
    const good = randomModel(9);
    const wrongLength: Model = { tensors: [{ name: 'x', dtype: 'bf16', shape: [3], data: new Uint16Array(2) }] };
    const wrongType: Model = { tensors: [{ name: 'x', dtype: 'f32', shape: [2], data: new Uint16Array(2) }] };
    const duplicate: Model = { tensors: [good.tensors[0]!, good.tensors[0]!] };
    for (const bad of [wrongLength, wrongType, duplicate]) {
      await expect(diff(good, bad)).rejects.toBeInstanceOf(InvalidModelError);
      await expect(snapshot(bad)).rejects.toBeInstanceOf(InvalidModelError);
    }
  });

  it('PULSE3: hand-made malformed patches are refused by encode', async () => {
    const base = randomModel(10);
    const patch = await diff(base, perturb(base, 11, 0.1));
    const t = patch.tensors[0]!;
    if (t.kind !== 'ulp' || t.positions.length < 2) throw new Error('fixture should have ulp changes');
    const unsorted = { ...t, positions: t.positions.slice().reverse() };
    expect(() => encode({ ...patch, tensors: [unsorted] })).toThrow(InvalidModelError);
    const noop = {
      ...t,
      signFlips: new Uint8Array(t.positions.length),
      magnitudeDeltas: new Uint32Array(t.positions.length),
    };
    expect(() => encode({ ...patch, tensors: [noop] })).toThrow(InvalidModelError);
  });

  it('PULSE7: diff and encode leave their inputs untouched', async () => {
    const base = randomModel(12);
    const next = perturb(base, 13, 0.05);
    const [b0, n0] = [cloneModel(base), cloneModel(next)];
    encode(await diff(base, next));
    expect(modelsBitEqual(base, b0) && modelsBitEqual(next, n0)).toBe(true);
  });

  it('PULSE7: encode and decode results are their own: later calls, failed ones included, change none of them', async () => {
    // encode keeps one writer and decode one reader between calls (container.ts): nothing they return may share them.
    const base = randomModel(14);
    const next = perturb(base, 15, 0.05);
    const patch = await diff(base, next);
    const bytes = encode(patch);
    const kept = bytes.slice();
    const big = await snapshot(randomModel(16, 'f32', 256, 256));
    const bigBytes = encode(big); // grows the writer past what it keeps
    expect(bigBytes.length).toBeGreaterThan(1 << 16);
    const t = patch.tensors.find((x) => x.kind === 'ulp' && x.positions.length > 0) as Extract<
      TensorPatch,
      { kind: 'ulp' }
    >;
    const noop = {
      ...t,
      signFlips: new Uint8Array(t.positions.length),
      magnitudeDeltas: new Uint32Array(t.positions.length),
    };
    expect(() => encode({ ...patch, tensors: [noop] })).toThrow(InvalidModelError); // fails while writing the body
    expect(Array.from(bytes)).toEqual(Array.from(kept));
    expect(Array.from(encode(patch))).toEqual(Array.from(kept));

    const decoded = decode(bytes);
    const positions = decoded.tensors.map((x) =>
      x.kind === 'full' || x.kind === 'conditioned' ? null : x.positions.slice(),
    );
    expect(() => decode(bytes.subarray(0, bytes.length >> 1))).toThrow();
    decode(bigBytes);
    decoded.tensors.forEach((x, i) => {
      if (x.kind !== 'full' && x.kind !== 'conditioned')
        expect(Array.from(x.positions)).toEqual(Array.from(positions[i]!));
    });
    expect(modelsBitEqual(await apply(base, decoded), next)).toBe(true);
    expect(modelsBitEqual(await apply(base, decode(bytes)), next)).toBe(true);
  });

  it('PULSE1: names come back right when one patch after another renames, reorders or lengthens its tensors', async () => {
    // decode reuses the strings of the last patch's names where the bytes at the same index match (container.ts).
    const lists = [
      ['a', 'b', 'layers.0.mlp'],
      ['a', 'c', 'layers.0.mlq'], // same lengths, different bytes
      ['layers.0.mlp', 'a', 'b'], // reordered
      ['a', 'bb', 'é', '权'.repeat(60)], // longer, multi-byte, past what is kept (180 bytes)
      ['a', 'bb', 'e', '权'.repeat(60)],
      ['\uFEFFa', 'bb'], // a leading byte-order mark is part of the name, not stripped
      ['a'],
    ];
    for (const names of [...lists, ...lists.slice().reverse()]) {
      const model: Model = { tensors: names.map((name, i) => tensor(name, 'bf16', [4], (j) => j + i)) };
      const decoded = decode(encode(await snapshot(model)));
      expect(decoded.tensors.map((t) => t.name)).toEqual(names);
    }
  });
});
