/**
 * The adversaries of the bench, the unit tests and the e2e harness page: each turns an honest round's
 * work into what a cheating provider would send. Not used by the product's provider.
 */
import { mulberry32 } from '../../random';
import { bf16Bits, compress, type Contribution, fromBf16Bits } from './compress';

export const ADVERSARY_KINDS = ['noise', 'scaled', 'sign-flip', 'copy', 'stale', 'zero', 'wrong-shard'] as const;
export type AdversaryKind = (typeof ADVERSARY_KINDS)[number];

/** Gaussian noise with the honest pseudo-gradient's norm, compressed the same way. */
export function noiseLike(delta: Float32Array, honest: Contribution, seed: number): Contribution {
  const u = mulberry32(seed);
  const noise = new Float32Array(delta.length);
  let ns = 0;
  let ds = 0;
  for (let i = 0; i < noise.length; i++) {
    const g = Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
    noise[i] = g;
    ns += g * g;
    ds += delta[i]! * delta[i]!;
  }
  const k = Math.sqrt(ds / ns);
  for (let i = 0; i < noise.length; i++) noise[i] = noise[i]! * k;
  return compress(noise, { chunk: honest.chunk, topK: honest.topK, decay: 1 });
}

export function scaled(c: Contribution, factor: number): Contribution {
  return { ...c, scales: c.scales.map((s) => bf16Bits(fromBf16Bits(s) * factor)) };
}

export function signFlipped(c: Contribution): Contribution {
  return { ...c, symbols: c.symbols.map((s) => s ^ 2) };
}

export function zero(c: Contribution): Contribution {
  return { ...c, scales: new Uint16Array(c.scales.length) };
}

/**
 * The cheats that rewrite this round's honest work — noise, ×10, sign flip, zero — or null for the kinds
 * that cheat otherwise (copy, stale, wrong shard). `delta` is the honest pseudo-gradient (noise takes its norm).
 */
export function tamperedWork(
  kind: AdversaryKind,
  honest: Contribution,
  delta: Float32Array,
  seed: number,
): Contribution | null {
  switch (kind) {
    case 'noise':
      return noiseLike(delta, honest, seed);
    case 'scaled':
      return scaled(honest, 10);
    case 'sign-flip':
      return signFlipped(honest);
    case 'zero':
      return zero(honest);
    default:
      return null;
  }
}
