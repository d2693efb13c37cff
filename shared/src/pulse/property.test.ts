import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setScaledMarginForTests } from './diff';
import { apply, decode, diff, encode, findChangesCpu, snapshot, type DType, type Model, type Tensor } from './index';
import { setArenaLimitsForTests } from './kernels';
import { modelsBitEqual } from './testing';

const dtypeArb = fc.constantFrom<DType>('bf16', 'f16', 'f32');
const shapeArb = fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 3 });

/** Bit patterns biased toward the interesting ones: edges, near-edges, and small nudges of normal weights. */
function bitsArb(dtype: DType): fc.Arbitrary<number> {
  const wide = dtype === 'f32';
  const max = wide ? 0xffffffff : 0xffff;
  const edges = wide
    ? [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fc00001, 0xffffffff, 1, 0x80000001, 0x007fffff, 0x3c23d70a]
    : [0, 0x8000, 0x7f80, 0xff80, 0x7c00, 0xfc00, 0x7fc1, 0xffff, 1, 0x8001, 0x3c24, 0x03ff];
  return fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 0, max }));
}

function tensorArb(name: string): fc.Arbitrary<Tensor> {
  return fc.tuple(dtypeArb, shapeArb).chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(bitsArb(dtype), { minLength: n, maxLength: n }).map((values) => ({
      name,
      dtype,
      shape,
      data: dtype === 'f32' ? Uint32Array.from(values) : Uint16Array.from(values),
    }));
  });
}

const modelArb: fc.Arbitrary<Model> = fc
  .uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 4 })
  .chain((names) => fc.tuple(...names.map(tensorArb)))
  .map((tensors) => ({ tensors }));

/** A next version of `base`: some values replaced by nudges (±1..4 ulp, wrapping) or arbitrary bits, maybe a new tensor. */
function nextArb(base: Model): fc.Arbitrary<Model> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 }), fc.boolean(), fc.nat()), { maxLength: 40 }),
      fc.option(tensorArb('added-tensor'), { nil: undefined }),
    )
    .map(([edits, added]) => {
      const tensors: Tensor[] = base.tensors.map((t) => ({ ...t, data: t.data.slice() }));
      for (const [where, step, arbitrary, bits] of edits) {
        const t = tensors[where % Math.max(1, tensors.length)];
        if (t === undefined || t.data.length === 0) continue;
        const i = Math.floor(where / 7) % t.data.length;
        const mask = t.dtype === 'f32' ? 0xffffffff : 0xffff;
        t.data[i] = arbitrary ? bits & mask : (t.data[i]! + step) & mask;
      }
      if (added !== undefined && !tensors.some((t) => t.name === added.name)) tensors.push(added);
      return { tensors };
    });
}

// Twice: with the encoder's own kind choice, and with every sparse tensor that raw does not win coded scaled
// (its size margin keeps these small tensors off scaled otherwise).
describe.each([
  ['kinds as chosen', null],
  ['scaled forced', -Infinity],
])('PULSE properties (%s)', (_, margin) => {
  let previous: number | null = null;
  beforeAll(() => void (previous = margin === null ? null : setScaledMarginForTests(margin)));
  afterAll(() => void (previous !== null && setScaledMarginForTests(previous)));

  it('PULSE2 PULSE3: diff → encode → decode → apply reproduces next for any dtypes, shapes and bit patterns', async () => {
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((base) => fc.tuple(fc.constant(base), nextArb(base))),
        async ([base, next]) => {
          const result = await apply(base, decode(encode(await diff(base, next))));
          expect(modelsBitEqual(result, next)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('PULSE4: snapshots round-trip any model', async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, async (model) => {
        expect(modelsBitEqual(await apply(null, decode(encode(await snapshot(model)))), model)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('PULSE3: encoding is deterministic (same patch, same bytes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((base) => fc.tuple(fc.constant(base), nextArb(base))),
        async ([base, next]) => {
          const a = encode(await diff(base, next));
          const b = encode(decode(a));
          expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('PULSE18: the fused CPU diff gives the bytes of findChangesCpu + sparseTensorPatch (a pluggable finder), aligned or not', async () => {
    /** Same values in a buffer that starts one element in, so 16-bit data is not 4-byte aligned. */
    const shifted = (m: Model): Model => ({
      tensors: m.tensors.map((t) => {
        const backing = t.dtype === 'f32' ? new Uint32Array(t.data.length + 1) : new Uint16Array(t.data.length + 1);
        backing.set(t.data, 1);
        return { ...t, data: backing.subarray(1) };
      }),
    });
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((base) => fc.tuple(fc.constant(base), nextArb(base), fc.boolean())),
        async ([base, next, unaligned]) => {
          const b = unaligned ? shifted(base) : base;
          const fused = encode(await diff(b, next));
          const pluggable = encode(await diff(b, next, { findChanges: findChangesCpu }));
          expect(Buffer.from(fused).equals(Buffer.from(pluggable))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('PULSE3 PULSE18: the WebAssembly kernels and the JS codec find the same changes, write the same bytes and decode them alike', async () => {
    /** Runs `fn` with the JS codec (no call fits an arena of 0 bytes). */
    const inJs = async <T>(fn: () => T | Promise<T>): Promise<T> => {
      const previous = setArenaLimitsForTests({ max: 0 });
      try {
        return await fn();
      } finally {
        setArenaLimitsForTests(previous);
      }
    };
    await fc.assert(
      fc.asyncProperty(
        modelArb.chain((base) => fc.tuple(fc.constant(base), nextArb(base), fc.boolean())),
        async ([base, next, full]) => {
          const patch = full ? await snapshot(next) : await diff(base, next);
          expect(patch).toEqual(await inJs(() => (full ? snapshot(next) : diff(base, next))));
          for (const [i, t] of next.tensors.entries()) {
            const old = base.tensors[i];
            if (old?.data.length === t.data.length)
              expect(findChangesCpu(old.data, t.data)).toEqual(await inJs(() => findChangesCpu(old.data, t.data)));
          }
          const wasm = encode(patch);
          const js = await inJs(() => encode(patch));
          expect(Buffer.from(wasm).equals(Buffer.from(js))).toBe(true);
          expect(decode(wasm)).toEqual(await inJs(() => decode(js)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
