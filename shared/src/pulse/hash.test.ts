import { createXXHash128 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { readyModelHasher } from './hash';
import { apply, diff, hashModel } from './index';
import { perturb, tensor } from './testing';
import { DTYPES, type Model } from './types';

/** The canonical serialisation as hash.ts documents it, built the plain way (encode() per name, DataView). */
function canonicalBytes(model: Model): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const t of model.tensors) {
    const name = new TextEncoder().encode(t.name);
    const header = new Uint8Array(4 + name.length + 2 + 4 * t.shape.length);
    const view = new DataView(header.buffer);
    view.setUint32(0, name.length, true);
    header.set(name, 4);
    header[4 + name.length] = DTYPES[t.dtype].code;
    header[5 + name.length] = t.shape.length;
    t.shape.forEach((d, i) => view.setUint32(6 + name.length + 4 * i, d, true));
    parts.push(header, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('model hash', () => {
  it('PULSE3: is xxh3-128 of the canonical serialisation for names of every UTF-8 length, long names and many dims', async () => {
    const names = [
      'embed.weight',
      'é', // 2 bytes
      '层.权重', // 3-byte characters
      'emoji 🧠 weight', // a surrogate pair: 4 bytes
      'lone \ud800 surrogate', // encoded as U+FFFD, as TextEncoder does
      '权'.repeat(300), // 900 bytes: past the hasher's first header buffer
      'x'.repeat(2000),
    ];
    const model: Model = {
      tensors: names.map((name, i) =>
        tensor(
          name,
          (['bf16', 'f16', 'f32'] as const)[i % 3]!,
          i === 2 ? [2, 1, 3, 1, 2, 1, 1, 2] : [3, 5],
          (j) => Math.imul(j + 1, 0x9e3779b1 + i) >>> (i % 3 === 2 ? 0 : 16),
        ),
      ),
    };
    const reference = await createXXHash128();
    reference.init();
    reference.update(canonicalBytes(model));
    expect(Buffer.from(await hashModel(model)).toString('hex')).toBe(
      Buffer.from(reference.digest('binary')).toString('hex'),
    );
  });

  it('PULSE3: apply checks the same hash for such names (headers laid out in the arena next to the values)', async () => {
    const base: Model = {
      tensors: ['层.权重', 'emoji 🧠 weight', '权'.repeat(300)].map((name, i) =>
        tensor(name, 'bf16', [64, 64], (j) => Math.imul(j + 1, 0x9e3779b1 + i) >>> 16),
      ),
    };
    const next = perturb(base, 5, 0.02);
    const patch = await diff(base, next);
    const result = await apply(base, patch);
    expect(Buffer.from(await hashModel(result)).toString('hex')).toBe(
      Buffer.from(await hashModel(next)).toString('hex'),
    );
    const reference = await createXXHash128();
    reference.init();
    reference.update(canonicalBytes(next));
    expect(Buffer.from(patch.resultHash).toString('hex')).toBe(Buffer.from(reference.digest('binary')).toString('hex'));
  });

  it('PULSE3: diff hashes the result the same way for empty tensors and tensors of more than one scan chunk', async () => {
    const shapes = [[0], [3, 5], [(1 << 20) + 5], [0, 4], [7]];
    const base: Model = {
      tensors: shapes.map((shape, i) =>
        tensor(`t${i}.权重`, i === 4 ? 'f32' : 'bf16', shape, (j) => Math.imul(j + 1, 0x9e3779b1 + i) >>> 16),
      ),
    };
    const next = perturb(base, 11, 0.01);
    const patch = await diff(base, next);
    const reference = await createXXHash128();
    reference.init();
    reference.update(canonicalBytes(next));
    expect(Buffer.from(patch.resultHash).toString('hex')).toBe(Buffer.from(reference.digest('binary')).toString('hex'));
    expect(Buffer.from(patch.resultHash).toString('hex')).toBe(Buffer.from(await hashModel(next)).toString('hex'));
  });

  it('PULSE3: hashers are handed out again only after their digest; two at once never share state', async () => {
    // Two at once is the WebAssembly path's (the default here): without it they share hash-wasm's one instance,
    // which is why every user runs begin() to digest() without awaiting (hash.ts).
    const a: Model = { tensors: [tensor('a', 'bf16', [300], (j) => j * 7), tensor('b', 'f32', [5], (j) => j)] };
    const b: Model = { tensors: [tensor('a', 'bf16', [300], (j) => j * 11)] };
    const [ha, hb] = [Buffer.from(await hashModel(a)).toString('hex'), Buffer.from(await hashModel(b)).toString('hex')];
    const first = readyModelHasher()!;
    const second = readyModelHasher()!;
    expect(second).not.toBe(first);
    first.begin();
    first.tensor(a.tensors[0]!);
    second.begin();
    second.tensor(b.tensors[0]!);
    first.update(a.tensors[0]!.data);
    second.update(b.tensors[0]!.data);
    first.tensor(a.tensors[1]!);
    first.update(a.tensors[1]!.data);
    const digestB = second.digest();
    expect(readyModelHasher()).toBe(second); // finished, so handed out again
    const digestA = first.digest();
    await hashModel(a);
    await hashModel(b);
    // Digests are the caller's: later ones by the same hashers leave them alone.
    expect([Buffer.from(digestA).toString('hex'), Buffer.from(digestB).toString('hex')]).toEqual([ha, hb]);
    // One left mid-model (as a throw would) is never handed out: the next hash starts clean.
    const abandoned = readyModelHasher()!;
    abandoned.begin();
    abandoned.tensor(a.tensors[0]!);
    expect(readyModelHasher()).not.toBe(abandoned);
    expect(Buffer.from(await hashModel(b)).toString('hex')).toBe(hb);
  });
});
