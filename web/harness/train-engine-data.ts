/**
 * What the train-engine harness page and e2e/train-engine.spec.ts both need: the seeded batches and a
 * checksum of a weight buffer, so the test can recompute in Node what Chromium must reproduce bit for bit.
 */
import { mulberry32 } from '@shared/random';
import type { Batch, GptConfig } from '@shared/train';

export const HARNESS_STEPS = 3;
export const HARNESS_SEED = 7;
/** Tiny preset, 2 sequences of the full context: a WASM step is ~20 ms, a JS f32 step a few hundred. */
export const HARNESS_B = 2;

export function harnessBatches(config: GptConfig, B: number, T: number, steps: number, seed: number): Batch[] {
  const u = mulberry32(seed);
  return Array.from({ length: steps }, () => ({
    inputs: Int32Array.from({ length: B * T }, () => Math.floor(u() * config.vocab)),
    targets: Int32Array.from({ length: B * T }, () => Math.floor(u() * config.vocab)),
  }));
}

/** FNV-1a over the float bits: equal checksums mean equal buffers here (a test aid, not a hash for trust). */
export function checksum(x: Float32Array): string {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) {
    h = Math.imul(h ^ u[i]!, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
