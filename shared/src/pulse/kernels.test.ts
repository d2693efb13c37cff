import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileKernels, KERNELS_MODULE, kernelsModuleText } from '../../../scripts/build-wasm';
import { apply, decode, diff, encode } from './index';
import { setArenaLimitsForTests, sharedArenaMemoryBytes } from './kernels';
import { modelsBitEqual, perturb, randomModel } from './testing';

describe('PULSE WebAssembly kernels', () => {
  it('PULSE3: the committed kernels.wasm.ts is exactly what npm run build:wasm makes of shared/assembly/pulse.ts', async () => {
    const built = kernelsModuleText(await compileKernels());
    expect(readFileSync(KERNELS_MODULE, 'utf8'), 'kernels.wasm.ts is stale: run npm run build:wasm').toBe(built);
  });

  it('PULSE13: a call larger than the shared arena gets an instance of its own and leaves the shared memory as it was', async () => {
    const base = randomModel(31, 'bf16', 64, 64);
    const next = perturb(base, 32, 0.2);
    const bytes = encode(await diff(base, next)); // the shared instance exists and is sized for small calls
    const before = sharedArenaMemoryBytes();
    expect(before).toBeGreaterThan(0);
    const previous = setArenaLimitsForTests({ shared: 0 });
    try {
      const again = encode(await diff(base, next));
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      expect(modelsBitEqual(await apply(base, decode(again)), next)).toBe(true);
    } finally {
      setArenaLimitsForTests(previous);
    }
    expect(sharedArenaMemoryBytes()).toBe(before);
  });
});
