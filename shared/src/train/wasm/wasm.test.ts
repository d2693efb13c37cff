import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildTrainModuleText, TRAIN_MODULE } from '../../../../scripts/build-train-wasm';
import { mulberry32 } from '../../random';
import { ADAMW_DEFAULTS } from '../adamw';
import { type Backend, JsBackend } from '../backend';
import type { GptConfig } from '../config';
import { NONE } from '../kernels';
import { arenaFor } from '../layout';
import { newTrainState, restoreInto } from '../state';
import { backward, type Batch, forward, loadBatch, trainStep } from '../step';
import { randomVec } from '../testing';
import { WasmBackend } from './backend';

/** Odd sizes on purpose: 6 rows (not a multiple of 4), width 20 (not of 16), vocabulary 11 (not of 4). */
const ODD: GptConfig = { kind: 'gpt', layers: 2, width: 20, heads: 5, context: 3, vocab: 11 };
const SMALLISH: GptConfig = { kind: 'gpt', layers: 2, width: 64, heads: 4, context: 32, vocab: 96 };

/**
 * WASM (f32 arithmetic, SIMD summation order) against the JS f32 path (f32 storage, float64 arithmetic):
 * differences are rounding only, a few ulps per sum; 1e-5 of the tensor's largest magnitude bounds them
 * at these sizes (the attention backward's dqkv reaches 1.1e-5), and a wrong index or missing term shows up as O(1).
 */
const REL_TOL = 5e-5;

function batchOf(c: GptConfig, B: number, T: number, seed: number): Batch {
  const u = mulberry32(seed);
  const inputs = Int32Array.from({ length: B * T }, () => Math.floor(u() * c.vocab));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(u() * c.vocab));
  return { inputs, targets };
}

/**
 * scaled: weights ×5 so activations and gradients are O(1) and every term of a kernel matters. Only for
 * single-step checks: training from there is unstable, and a run compared over many steps starts from
 * the real init instead.
 */
function pair(c: GptConfig, B: number, T: number, scaled = true): [Backend, Backend] {
  const s = newTrainState(c, ADAMW_DEFAULTS, 3);
  const js = new JsBackend(arenaFor(c, B, T), 'f32');
  const wasm = new WasmBackend(arenaFor(c, B, T));
  const p = Float32Array.from(s.params, (x, i) => (scaled ? x * 5 + ((i % 5) - 2) * 0.01 : x));
  for (const b of [js, wasm]) {
    restoreInto(b, s);
    b.writeFloats(b.arena.paramsAt, p);
  }
  return [js, wasm];
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return worst / scale;
}

describe('WASM training kernels', () => {
  it('TRAIN-W0: kernels.wasm.ts is built from shared/assembly/train.ts', async () => {
    const built = await buildTrainModuleText();
    expect(readFileSync(TRAIN_MODULE, 'utf8'), 'kernels.wasm.ts is stale: run npm run build:wasm:train').toBe(built);
  });

  it('TRAIN-W1: matmul forward and both gradient products equal the reference at ragged sizes', () => {
    for (const [N, Cin, Cout] of [
      [6, 20, 11],
      [9, 64, 7],
      [4, 132, 16],
    ] as const) {
      const c: GptConfig = { kind: 'gpt', layers: 1, width: 4, heads: 1, context: 1, vocab: 4 };
      const size = N * Cin + Cout * Cin + Cout + N * Cout;
      const arena = { ...arenaFor(c, 1, 1), size: 3 * size };
      const data = randomVec(size * 2, N * 1000 + Cin);
      const run = (b: Backend) => {
        b.writeFloats(0, data);
        const [inp, w, bias, out] = [0, N * Cin, N * Cin + Cout * Cin, N * Cin + Cout * Cin + Cout];
        const d = size; // gradients and dout live in the second copy of the data
        b.kernels.matmulForward(out, inp, w, bias, N, Cin, Cout);
        b.kernels.matmulBackward(d + inp, d + w, d + bias, d + out, inp, w, N, Cin, Cout);
        b.kernels.matmulForward(2 * size, inp, w, NONE, N, Cin, Cout);
        return b.readFloats(0, 2 * size + N * Cout);
      };
      const js = run(new JsBackend(arena, 'f32'));
      const wasm = run(new WasmBackend(arena));
      expect(relDiff(js, wasm), `${N}×${Cin}×${Cout}`).toBeLessThan(REL_TOL);
    }
  });

  it('TRAIN-W2: every activation and gradient of a step equals the JS f32 path', () => {
    for (const [c, B, T] of [
      [ODD, 2, 3],
      [SMALLISH, 2, 32],
    ] as const) {
      const [js, wasm] = pair(c, B, T);
      for (const b of [js, wasm]) {
        loadBatch(b, batchOf(c, B, T, 11));
        forward(b);
        backward(b);
      }
      const a = js.arena;
      for (const [at, layout, what] of [
        [a.actsAt, a.acts, 'act'],
        [a.dactsAt, a.acts, 'dact'],
        [a.gradsAt, a.params, 'grad'],
      ] as const)
        for (const t of layout.tensors) {
          const x = js.readFloats(at + t.offset, t.size);
          const y = wasm.readFloats(at + t.offset, t.size);
          expect(relDiff(x, y), `${what} ${t.name}`).toBeLessThan(REL_TOL);
        }
    }
  });

  it('TRAIN-W3: 10 AdamW steps track the JS f32 path within 1e-5 and rerun bit-identically', () => {
    const c = SMALLISH;
    const run = (b: Backend) => {
      const losses = [];
      for (let t = 1; t <= 10; t++) losses.push(trainStep(b, batchOf(c, 2, 32, t), ADAMW_DEFAULTS, t));
      return losses;
    };
    const [js, wasm] = pair(c, 2, 32, false);
    const lj = run(js);
    const lw = run(wasm);
    for (let t = 0; t < 10; t++) expect(Math.abs(lj[t]! - lw[t]!), `step ${t + 1}`).toBeLessThan(1e-5);
    const again = pair(c, 2, 32, false)[1];
    expect(run(again)).toEqual(lw);
    const P = wasm.arena.params.size;
    expect((again as WasmBackend).f.subarray(0, 3 * P)).toEqual((wasm as WasmBackend).f.subarray(0, 3 * P));
  });
});
