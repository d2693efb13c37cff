/**
 * Format stability: patches written by earlier builds (kept in IndexedDB
 * caches and forwarded between providers) must decode to the same model, and
 * the same patch must encode to the same bytes. The fixtures in golden/ were
 * written by the format-2 encoder (f32-scaled, by format 3); `PULSE_WRITE_GOLDEN=1 npx vitest run
 * shared/src/pulse/golden.test.ts` rewrites them, which only a deliberate
 * format change (a new FORMAT_VERSION) should ever need.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apply, decode, diff, encode, snapshot, type Model } from './index';
import {
  adamStepF32,
  encodeValue,
  gaussian,
  modelsBitEqual,
  perturb,
  randomModel,
  seededRandom,
  tensor,
} from './testing';

const dir = new URL('./golden/', import.meta.url);

/** A base and a next that exercise every coded path: ulp deltas of each dtype, huge f32 deltas, raw values, runs, scaled deltas, full tensors. */
function goldenCase(name: string): { base: Model | null; next: Model } {
  switch (name) {
    case 'bf16-ulp': {
      const base = randomModel(11, 'bf16', 48, 64);
      return { base, next: perturb(base, 12, 0.02) };
    }
    case 'f16-ulp': {
      const base = randomModel(13, 'f16', 40, 50);
      return { base, next: perturb(base, 14, 0.03) };
    }
    case 'f32-wide': {
      const base = randomModel(15, 'f32', 30, 40);
      const next = perturb(base, 16, 0.02);
      // Changes whose ulp delta needs > 24 raw bits, and whose gaps are long.
      const data = next.tensors[0]!.data;
      for (let i = 7; i < data.length; i += 211) data[i] = encodeValue('f32', (i % 2 ? 1 : -1) * 3e30);
      return { base, next };
    }
    case 'bf16-raw-runs': {
      const rand = seededRandom(17);
      const base = randomModel(17, 'bf16', 32, 32);
      const next: Model = {
        tensors: [
          // Re-drawn values (raw kind), mostly in long runs (run-coded positions).
          tensor('embed', 'bf16', [32, 32], (i) =>
            i % 97 < 80 ? encodeValue('bf16', gaussian(rand) * 0.02) : base.tensors[0]!.data[i]!,
          ),
          base.tensors[1]!,
          tensor('added', 'f16', [5, 7], (i) => encodeValue('f16', i / 3 - 4)),
        ],
      };
      return { base, next };
    }
    case 'f32-scaled': {
      // Format 3: Adam-like f32 steps, coded relative to the old exponent.
      const base = randomModel(21, 'f32', 64, 64);
      return { base, next: adamStepF32(base, 22, 0.05) };
    }
    case 'snapshot':
      return { base: null, next: randomModel(19, 'bf16', 24, 24) };
    default:
      throw new Error(name);
  }
}

const CASES = ['bf16-ulp', 'f16-ulp', 'f32-wide', 'bf16-raw-runs', 'f32-scaled', 'snapshot'];

describe('PULSE format stability', () => {
  it.each(CASES)('PULSE12: %s fixture decodes to its model and re-encodes to the same bytes', async (name) => {
    const { base, next } = goldenCase(name);
    const patch = base === null ? await snapshot(next) : await diff(base, next);
    const bytes = encode(patch);
    const file = new URL(`${name}.pulse`, dir);
    if (process.env['PULSE_WRITE_GOLDEN'] === '1' || !existsSync(file)) {
      expect(process.env['PULSE_WRITE_GOLDEN'], `fixture ${name}.pulse is missing`).toBe('1');
      writeFileSync(file, bytes);
    }
    const golden = new Uint8Array(readFileSync(file));
    expect(modelsBitEqual(await apply(base, decode(golden)), next)).toBe(true);
    expect(Buffer.from(bytes).equals(Buffer.from(golden))).toBe(true);
  });
});
