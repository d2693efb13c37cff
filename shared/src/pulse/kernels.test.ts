import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileKernels, KERNELS_MODULE, kernelsModuleText } from '../../../scripts/build-wasm';
import { apply, decode, diff, encode, findChangesCpu, hashModel, type Model } from './index';
import { CorruptPatchError } from './errors';
import { Arena, arenaBytes, setArenaLimitsForTests, sharedArenaMemoryBytes } from './kernels';
import { decodeWithKernels, type StreamSpan } from './payload-wasm';
import { normalize, ransEncode } from './rans';
import { alphabetOf, GAP_STREAM, RUN_STREAM, scaledStream } from './streams';
import { modelsBitEqual, perturb, randomModel, tensor } from './testing';

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

  it('PULSE18: a tensor of several scan chunks (1 Mi values each) diffs as the JS scan does, changes at the chunk edges included', async () => {
    const n = (1 << 21) + 37;
    const base: Model = { tensors: [tensor('big', 'bf16', [n], (i) => 0x3c00 + (i % 251))] };
    const next: Model = { tensors: [{ ...base.tensors[0]!, data: base.tensors[0]!.data.slice() }] };
    const data = next.tensors[0]!.data;
    for (const i of [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 1 << 21, n - 1]) data[i] = data[i]! ^ 0x8001;
    for (let i = 5; i < n; i += 997) data[i] = data[i]! + 1;
    const previous = setArenaLimitsForTests({ max: 0 });
    let js: { positions: Uint32Array; bytes: Uint8Array };
    try {
      js = { positions: findChangesCpu(base.tensors[0]!.data, data), bytes: encode(await diff(base, next)) };
    } finally {
      setArenaLimitsForTests(previous);
    }
    expect(findChangesCpu(base.tensors[0]!.data, data)).toEqual(js.positions);
    expect(Buffer.from(encode(await diff(base, next))).equals(Buffer.from(js.bytes))).toBe(true);
    // The result hash is taken a scan chunk at a time: it must be the hash of the whole model.
    expect((await diff(base, next)).resultHash).toEqual(await hashModel(next));
    // apply copies, patches and hashes a chunk at a time (arena-patch.ts, 512 Ki values here), changes at their edges too.
    expect(modelsBitEqual(await apply(base, decode(encode(await diff(base, next)))), next)).toBe(true);
  });

  it("PULSE14: the gap kernel that decodes scaled symbols alongside stops at either stream's end, not a byte past it", () => {
    // Gaps of 0 and 1 (bucket symbols without raw bits) and arbitrary scaled symbols: no raw-bit stream at all.
    const n = 300;
    const gaps = Uint16Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const symbols = Uint16Array.from({ length: n }, (_, i) => 100 + ((i * 7) % 13));
    const table = (stream: number, of: Uint16Array) => {
      const counts = new Uint32Array(alphabetOf(stream));
      for (const s of of) counts[s]!++;
      return normalize(counts);
    };
    const gapTable = table(GAP_STREAM, gaps);
    const scaledTable = table(scaledStream('f32'), symbols);
    const gapBytes = ransEncode(gapTable, gaps, n).slice();
    const scaledBytes = ransEncode(scaledTable, symbols, n).slice();
    const bytes = new Uint8Array([...gapBytes, ...scaledBytes]);
    const layout = {
      name: 'w',
      dtype: 'f32' as const,
      shape: [2 * n],
      kind: 'scaled' as const,
      elements: 2 * n,
      changes: n,
      runs: false,
      count: n,
    };
    const run = (gapEnd: number, scaledEnd: number) => {
      const streams: (StreamSpan | null)[] = Array.from({ length: RUN_STREAM + 4 }, () => null);
      streams[GAP_STREAM] = { table: gapTable, start: 0, end: gapEnd };
      streams[scaledStream('f32')] = { table: scaledTable, start: gapBytes.length, end: scaledEnd };
      return decodeWithKernels([layout], bytes, streams, bytes.length, [new Uint8Array(0)]);
    };
    const t = run(gapBytes.length, bytes.length)![0]!;
    let next = 0;
    const positions = Array.from(gaps, (g) => (next += g + 1) - 1);
    expect(t.kind === 'scaled' && [Array.from(t.positions), Array.from(t.symbols)]).toEqual([
      positions,
      Array.from(symbols),
    ]);
    // One byte short: the kernel must stop there (reading on would decode and then fail as "trailing bytes").
    expect(() => run(gapBytes.length - 1, bytes.length)).toThrow(
      new CorruptPatchError('tensor w: rANS stream is truncated'),
    );
    expect(() => run(gapBytes.length, bytes.length - 1)).toThrow(
      new CorruptPatchError('tensor w: rANS stream is truncated'),
    );
  });

  it('PULSE13: arena sizes past 2^31 are not wrapped by 32-bit maths, so a huge call is sent to the JS codec', () => {
    expect(arenaBytes(2 ** 32 + 1)).toBe(2 ** 32 + 8);
    expect(arenaBytes(3 * 2 ** 30)).toBe(3 * 2 ** 30);
    expect(Arena.for(arenaBytes(4 * 2 ** 30))).toBeNull();
  });
});
