import { describe, expect, it } from 'vitest';
import {
  apply,
  decode,
  diff,
  encode,
  hashModel,
  HashMismatchError,
  InvalidModelError,
  PulseError,
  WrongBaseError,
  type Model,
  type Patch,
  type TensorPatch,
} from './index';
import { setArenaLimitsForTests } from './kernels';
import {
  adamStepF32,
  cloneModel,
  encodeValue,
  gaussian,
  modelsBitEqual,
  perturb,
  randomModel,
  seededRandom,
  tensor,
} from './testing';

describe('PULSE apply', () => {
  it('PULSE5 PULSE7: a patch applied to the wrong base throws WrongBaseError and leaves it untouched', async () => {
    const base = randomModel(1);
    const other = perturb(base, 99, 0.01);
    const patch = decode(encode(await diff(base, perturb(base, 2, 0.05))));
    const before = cloneModel(other);
    await expect(apply(other, patch)).rejects.toBeInstanceOf(WrongBaseError);
    await expect(apply(null, patch)).rejects.toBeInstanceOf(WrongBaseError);
    expect(modelsBitEqual(other, before)).toBe(true);
  });

  it('PULSE6: once the hasher has loaded, apply and hashModel run to the end without yielding (see readyModelHasher)', async () => {
    const base = randomModel(41);
    const next = perturb(base, 42, 0.05);
    const baseHash = await hashModel(base);
    const patch = decode(encode(await diff(base, next, { baseHash })));
    const order: string[] = [];
    const done = [
      apply(base, patch, { baseHash }).then(() => order.push('apply')),
      hashModel(next).then(() => order.push('hashModel')),
    ];
    // Queued after both calls returned: it runs first if either awaited inside.
    const later = Promise.resolve().then(() => order.push('later'));
    await Promise.all([...done, later]);
    expect(order).toEqual(['apply', 'hashModel', 'later']);
  });

  it('PULSE5: a caller-supplied base hash is checked against the patch too', async () => {
    const base = randomModel(3);
    const patch = await diff(base, perturb(base, 4, 0.05));
    const wrongHash = await hashModel(perturb(base, 5, 0.05));
    await expect(apply(base, patch, { baseHash: wrongHash })).rejects.toBeInstanceOf(WrongBaseError);
    const ok = await apply(base, patch, { baseHash: await hashModel(base) });
    expect(ok.tensors.length).toBe(base.tensors.length);
  });

  it('PULSE5: a patch for a tensor the base lacks (or holds with another shape) is a wrong base', async () => {
    const base = randomModel(6);
    const patch = await diff(base, perturb(base, 7, 0.05));
    const renamed: Model = { tensors: base.tensors.map((t) => ({ ...t, name: `${t.name}-x` })) };
    await expect(
      apply(renamed, { ...patch, baseHash: null === patch.baseHash ? null : await hashModel(renamed) }),
    ).rejects.toBeInstanceOf(WrongBaseError);
  });

  it('PULSE5 PULSE7: a hand-made patch with a position past the end of its tensor is a wrong base, base untouched', async () => {
    const base = randomModel(14, 'bf16', 64, 64);
    const patch = await diff(base, perturb(base, 15, 0.05));
    const before = cloneModel(base);
    const past: Patch = {
      ...patch,
      tensors: patch.tensors.map((t) =>
        t.kind === 'ulp'
          ? { ...t, positions: t.positions.map((p, i) => (i === t.positions.length - 1 ? 64 * 64 : p)) }
          : t,
      ),
    };
    await expect(apply(base, past)).rejects.toThrow(/beyond/);
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE6 PULSE7: a decoded patch changed in place afterwards is still held to its result hash, whether copied whole or block by block', async () => {
    // Decode's position columns skip apply's scan when the tensor is copied whole; the block pass always scans.
    const rand = seededRandom(16);
    const base: Model = {
      tensors: [
        tensor('small', 'bf16', [64, 64], () => encodeValue('bf16', gaussian(rand))),
        tensor('large', 'bf16', [2049, 256], () => encodeValue('bf16', gaussian(rand))),
      ],
    };
    const next = perturb(base, 17, 0.01);
    const bytes = encode(await diff(base, next));
    const before = cloneModel(base);
    const edits: [string, (p: Uint32Array) => void][] = [
      ['swapped', (p) => ([p[0], p[1]] = [p[1]!, p[0]!])],
      ['past the end', (p) => (p[0] = 1 << 30)],
    ];
    for (const [, edit] of edits) {
      for (const name of ['small', 'large']) {
        const patch = decode(bytes);
        const t = patch.tensors.find((x) => x.name === name)!;
        if (t.kind === 'full' || t.kind === 'conditioned') throw new Error('fixture should patch sparsely');
        edit(t.positions);
        await expect(apply(base, patch)).rejects.toBeInstanceOf(PulseError);
      }
    }
    expect(modelsBitEqual(base, before)).toBe(true);
    // The same changes in reverse order, every column reversed in place: still next, in both passes.
    for (const name of ['small', 'large']) {
      const patch = decode(bytes);
      const t = patch.tensors.find((x) => x.name === name)!;
      if (t.kind === 'full' || t.kind === 'scaled' || t.kind === 'conditioned')
        throw new Error('fixture should patch with ulp or raw changes');
      t.positions.reverse();
      if (t.kind === 'ulp') t.signFlips.reverse(), t.magnitudeDeltas.reverse();
      else t.bits.reverse();
      expect(modelsBitEqual(await apply(base, patch), next)).toBe(true);
    }
  });

  it('PULSE5 PULSE7: in the arena, a decoded change edited to the position just past its tensor is a wrong base, not a write past it', async () => {
    // Whole-copied tensors are patched by the applyUlp, applyRaw and applyScaled kernels in a WebAssembly arena;
    // a write at position n would land in the next arena region, where the result hash would not see it.
    const bf16 = randomModel(43, 'bf16', 64, 64);
    const f32 = randomModel(44, 'f32', 64, 64);
    const rand = seededRandom(47);
    const redrawn: Model = {
      tensors: bf16.tensors.map((t) => ({
        ...t,
        data: t.data.map((x, i) => (i % 37 === 0 ? Math.floor(rand() * 0x10000) : x)),
      })),
    };
    for (const [base, next, kind] of [
      [bf16, perturb(bf16, 45, 0.02), 'ulp'],
      [bf16, redrawn, 'raw'],
      [f32, adamStepF32(f32, 46, 0.1), 'scaled'],
    ] as const) {
      const before = cloneModel(base);
      const patch = decode(encode(await diff(base, next)));
      const t = patch.tensors.find((x) => x.kind === kind);
      if (t === undefined || t.kind === 'full' || t.kind === 'conditioned')
        throw new Error(`fixture should have a ${kind} tensor`);
      const n = base.tensors.find((x) => x.name === t.name)!.data.length;
      t.positions[t.positions.length - 1] = n;
      await expect(apply(base, patch)).rejects.toThrow(WrongBaseError);
      await expect(apply(base, patch)).rejects.toThrow(`change ${t.positions.length - 1} is beyond ${n} elements`);
      expect(modelsBitEqual(base, before)).toBe(true);
    }
  });

  it('PULSE7: a hand-made patch with change columns longer or shorter than its positions is refused, base untouched', async () => {
    const base = randomModel(14, 'f32', 64, 64);
    const before = cloneModel(base);
    const nudged = perturb(base, 15, 0.05);
    const ulp = await diff(base, nudged);
    const scaled = await diff(base, adamStepF32(base, 16, 0.1));
    const u = ulp.tensors[0]!;
    if (u.kind !== 'ulp') throw new Error('fixture should have ulp changes');
    // The same changes as raw new values, by hand.
    const raw: Patch = {
      ...ulp,
      tensors: [
        { ...u, kind: 'raw', bits: Uint32Array.from(u.positions, (p) => nudged.tensors[0]!.data[p]!) },
        ...ulp.tensors.slice(1),
      ],
    };
    expect(modelsBitEqual(await apply(base, raw), nudged)).toBe(true);
    const ragged: Patch[] = [];
    for (const patch of [ulp, raw, scaled]) {
      const t = patch.tensors.find((x) => x.kind !== 'full')!;
      if (t.kind === 'conditioned') throw new Error('fixture should have ulp, raw or scaled changes');
      const n = t.positions.length;
      for (const length of [n + 1, n + 4096, 1 << 22, n - 1]) {
        const columns =
          t.kind === 'ulp'
            ? { signFlips: resized(t.signFlips, length), magnitudeDeltas: resized(t.magnitudeDeltas, length) }
            : t.kind === 'raw'
              ? { bits: resized(t.bits, length) }
              : { symbols: resized(t.symbols, length) };
        ragged.push({
          ...patch,
          tensors: patch.tensors.map((x) => (x === t ? ({ ...t, ...columns } as TensorPatch) : x)),
        });
      }
    }
    expect(new Set(ragged.map((p) => p.tensors.find((x) => x.kind !== 'full')!.kind))).toEqual(
      new Set(['ulp', 'raw', 'scaled']),
    );
    for (const patch of ragged) await expect(apply(base, patch)).rejects.toThrow(InvalidModelError);
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE5: decoded positions reordered by the caller with one past the end name the first bad change (one arena chunk)', async () => {
    const base = randomModel(17, 'bf16', 16, 32);
    const patch = decode(encode(await diff(base, perturb(base, 18, 0.05))));
    const t = patch.tensors[0]!;
    if (t.kind !== 'ulp' || t.positions.length < 3) throw new Error('fixture should have ulp changes');
    const n = 16 * 32;
    t.positions.reverse();
    t.positions[0] = n + 7;
    t.positions[2] = n;
    // Past the end last of all too: a search that assumed order would stop there and name it.
    t.positions[t.positions.length - 1] = n + 1;
    await expect(apply(base, patch)).rejects.toThrow(`tensor ${t.name}: change 0 is beyond ${n} elements`);
  });

  it('PULSE2: a hand-made patch whose changes are out of order still applies (no block-by-block pass for it)', async () => {
    const base = randomModel(12, 'bf16', 128, 128);
    const next = perturb(base, 13, 0.05);
    const patch = await diff(base, next);
    const reversed: Patch = {
      ...patch,
      tensors: patch.tensors.map((t) =>
        t.kind === 'ulp'
          ? {
              ...t,
              positions: t.positions.slice().reverse(),
              signFlips: t.signFlips.slice().reverse(),
              magnitudeDeltas: t.magnitudeDeltas.slice().reverse(),
            }
          : t,
      ),
    };
    expect(modelsBitEqual(await apply(base, reversed), next)).toBe(true);
  });

  it.each([
    ['WebAssembly arena', Infinity],
    ['JS loops', 0],
  ])(
    'PULSE2: tensors just under and just over the whole-copy size apply exactly, for ulp, raw and scaled changes (%s)',
    async (_, maxArena) => {
      // Exactly 1 MiB is one arena chunk, 256 values more a second, partial one (arena-patch.ts ARENA_CHUNK_BYTES = 2^20);
      // without an arena the same sizes are the JS whole copy and block loop (apply.ts WHOLE_COPY_MAX_BYTES, property.test.ts).
      const rand = seededRandom(20);
      const draw = (dtype: 'bf16' | 'f32') => () => encodeValue(dtype, gaussian(rand) * 0.02);
      const base: Model = {
        tensors: [0, 1].flatMap((over) => [
          tensor(`ulp${over}`, 'bf16', [2048 + over, 256], draw('bf16')),
          tensor(`raw${over}`, 'bf16', [2048 + over, 256], draw('bf16')),
          tensor(`scaled${over}`, 'f32', [1024 + over, 256], draw('f32')),
        ]),
      };
      const nudged = perturb(base, 21, 0.01);
      const stepped = adamStepF32(base, 22, 0.01);
      const next: Model = {
        tensors: base.tensors.map((t, ti) =>
          t.name.startsWith('raw')
            ? { ...t, data: t.data.map((v, i) => (i % 2 === 0 ? draw('bf16')() : v)) }
            : t.name.startsWith('ulp')
              ? nudged.tensors[ti]!
              : stepped.tensors[ti]!,
        ),
      };
      const patch = decode(encode(await diff(base, next)));
      expect(patch.tensors.map((t) => t.kind)).toEqual(['ulp', 'raw', 'scaled', 'ulp', 'raw', 'scaled']);
      const before = cloneModel(base);
      const previous = setArenaLimitsForTests({ max: maxArena });
      try {
        expect(modelsBitEqual(await apply(base, patch), next)).toBe(true);
      } finally {
        setArenaLimitsForTests(previous);
      }
      expect(modelsBitEqual(base, before)).toBe(true);
    },
  );

  it('PULSE6 PULSE7: a forged result hash throws HashMismatchError and leaves the base untouched', async () => {
    const base = randomModel(8);
    const patch = await diff(base, perturb(base, 9, 0.05));
    const forged: Patch = { ...patch, resultHash: patch.resultHash.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    const before = cloneModel(base);
    await expect(apply(base, decode(encode(forged)))).rejects.toBeInstanceOf(HashMismatchError);
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE6 PULSE7: a patch whose values were tampered with fails the hash check, base untouched', async () => {
    const base = randomModel(10);
    const patch = await diff(base, perturb(base, 11, 0.05));
    const t = patch.tensors[0]!;
    if (t.kind !== 'ulp') throw new Error('fixture should be ulp');
    const tampered: Patch = {
      ...patch,
      tensors: [
        { ...t, magnitudeDeltas: t.magnitudeDeltas.map((d) => (d === 1 ? 2 : d === 2 ? 1 : d)) },
        ...patch.tensors.slice(1),
      ],
    };
    const before = cloneModel(base);
    await expect(apply(base, tampered)).rejects.toBeInstanceOf(HashMismatchError);
    expect(modelsBitEqual(base, before)).toBe(true);
  });

  it('PULSE7: a successful apply returns new arrays and never aliases the base', async () => {
    const base = randomModel(12);
    const next = perturb(base, 13, 0.05);
    const before = cloneModel(base);
    const result = await apply(base, await diff(base, next));
    expect(modelsBitEqual(result, next)).toBe(true);
    expect(modelsBitEqual(base, before)).toBe(true);
    result.tensors.forEach((t, i) => expect(t.data.buffer).not.toBe(base.tensors[i]!.data.buffer));
  });

  it('PULSE9: the hash covers names, dtype, shape, order and bits', async () => {
    const m = randomModel(14);
    const h = await hashModel(m);
    const [a, b] = m.tensors as [Model['tensors'][0], Model['tensors'][0]];
    const variants: Model[] = [
      { tensors: [b, a] },
      { tensors: [{ ...a, name: 'other' }, b] },
      { tensors: [{ ...a, shape: [a.shape[1]!, a.shape[0]!] }, b] },
      { tensors: [{ ...a, dtype: 'f16' }, b] },
      perturb(m, 15, 0.01),
    ];
    for (const v of variants) expect(Buffer.from(await hashModel(v)).equals(Buffer.from(h))).toBe(false);
    expect(Buffer.from(await hashModel(cloneModel(m))).equals(Buffer.from(h))).toBe(true);
  });
});

/** A copy of `a` cut or zero-padded to `length`. */
function resized<T extends Uint8Array | Uint16Array | Uint32Array>(a: T, length: number): T {
  const out = new (a.constructor as new (n: number) => T)(length);
  out.set(a.subarray(0, Math.min(a.length, length)));
  return out;
}
