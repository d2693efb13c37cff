import { describe, expect, it } from 'vitest';
import { fdMaxError, randomVec } from '../testing';
import { attentionBackward, attentionForward } from './attention';
import { crossentropyBackward, crossentropyForward } from './crossentropy';
import { encoderBackward, encoderForward } from './embedding';
import { geluBackward, geluForward } from './gelu';
import { layernormBackward, layernormForward } from './layernorm';
import { matmulBackward, matmulForward } from './matmul';
import { residualBackward, residualForward } from './residual';

/** Float64 central differences with h = 1e-5 agree to ~1e-9; 1e-6 leaves room and still catches any wrong term. */
const FD_TOL = 1e-6;

describe('float64 reference layers: backward vs finite differences', () => {
  it('TRAIN-L1: matmul with bias, both gradient products and dbias', () => {
    const [N, Cin, Cout] = [3, 5, 4];
    const inp = randomVec(N * Cin, 1);
    const w = randomVec(Cout * Cin, 2);
    const bias = randomVec(Cout, 3);
    const run = () => {
      const out = new Float64Array(N * Cout);
      matmulForward(out, inp, w, bias, N, Cin, Cout);
      return out;
    };
    const back = (d: Float64Array) => {
      const g = [new Float64Array(inp.length), new Float64Array(w.length), new Float64Array(bias.length)];
      matmulBackward(g[0]!, g[1]!, g[2]!, d, inp, w, N, Cin, Cout);
      return g;
    };
    expect(fdMaxError([inp, w, bias], run, back)).toBeLessThan(FD_TOL);
  });

  it('TRAIN-L2: layernorm (eps 1e-5) for input, gain and bias', () => {
    const [N, C] = [3, 8];
    const inp = randomVec(N * C, 4, 2);
    const w = randomVec(C, 5);
    const b = randomVec(C, 6);
    const run = () => {
      const out = new Float64Array(N * C);
      layernormForward(out, new Float64Array(N), new Float64Array(N), inp, w, b, N, C);
      return out;
    };
    const back = (d: Float64Array) => {
      const mean = new Float64Array(N);
      const rstd = new Float64Array(N);
      layernormForward(new Float64Array(N * C), mean, rstd, inp, w, b, N, C);
      const g = [new Float64Array(inp.length), new Float64Array(C), new Float64Array(C)];
      layernormBackward(g[0]!, g[1]!, g[2]!, d, inp, w, mean, rstd, N, C);
      return g;
    };
    expect(fdMaxError([inp, w, b], run, back)).toBeLessThan(FD_TOL);
  });

  it('TRAIN-L3: causal multi-head attention over packed qkv', () => {
    const [B, T, C, NH] = [2, 4, 8, 2];
    const qkv = randomVec(B * T * 3 * C, 8);
    const att = new Float64Array(B * NH * T * T);
    const run = () => {
      const out = new Float64Array(B * T * C);
      attentionForward(out, att, qkv, B, T, C, NH);
      return out;
    };
    const back = (d: Float64Array) => {
      run();
      const g = new Float64Array(qkv.length);
      attentionBackward(g, d, qkv, att, B, T, C, NH);
      return [g];
    };
    expect(fdMaxError([qkv], run, back)).toBeLessThan(FD_TOL);
    // Causality: a later key never receives weight.
    run();
    for (let t = 0; t < T; t++) for (let t2 = t + 1; t2 < T; t2++) expect(att[t * T + t2]).toBe(0);
  });

  it('TRAIN-L4: GELU (tanh form) and its derivative', () => {
    const x = randomVec(16, 9, 3);
    const run = () => {
      const out = new Float64Array(16);
      geluForward(out, x, 16);
      return out;
    };
    const back = (d: Float64Array) => {
      const g = new Float64Array(16);
      geluBackward(g, x, d, 16);
      return [g];
    };
    expect(fdMaxError([x], run, back)).toBeLessThan(FD_TOL);
    const one = new Float64Array(1);
    geluForward(one, Float64Array.of(1), 1);
    expect(one[0]).toBeCloseTo(0.8411919906, 9); // GPT-2's tanh GELU at 1
  });

  it('TRAIN-L5: softmax cross-entropy (mean over rows)', () => {
    const [N, V] = [3, 7];
    const logits = randomVec(N * V, 10, 3);
    const targets = Int32Array.of(0, 6, 3);
    const probs = new Float64Array(N * V);
    const run = () => {
      const losses = new Float64Array(N);
      crossentropyForward(losses, probs, logits, targets, N, V);
      return Float64Array.of(losses.reduce((a, b) => a + b, 0) / N);
    };
    const back = (d: Float64Array) => {
      run();
      const g = new Float64Array(N * V);
      crossentropyBackward(g, probs, targets, N, V);
      return [g.map((x) => x * d[0]!)];
    };
    expect(fdMaxError([logits], run, back)).toBeLessThan(FD_TOL);
  });

  it('TRAIN-L6: embedding lookup and scatter-add (repeated token sums)', () => {
    const [B, T, C, V] = [2, 3, 4, 5];
    const tokens = Int32Array.of(1, 4, 1, 0, 1, 2);
    const wte = randomVec(V * C, 11);
    const wpe = randomVec(T * C, 12);
    const run = () => {
      const out = new Float64Array(B * T * C);
      encoderForward(out, tokens, wte, wpe, B, T, C);
      return out;
    };
    const back = (d: Float64Array) => {
      const g = [new Float64Array(wte.length), new Float64Array(wpe.length)];
      encoderBackward(g[0]!, g[1]!, d, tokens, B, T, C);
      return g;
    };
    expect(fdMaxError([wte, wpe], run, back)).toBeLessThan(FD_TOL);
  });

  it('TRAIN-L7: residual add passes the gradient to both branches', () => {
    const a = randomVec(6, 13);
    const b = randomVec(6, 14);
    const run = () => {
      const out = new Float64Array(6);
      residualForward(out, a, b, 6);
      return out;
    };
    const back = (d: Float64Array) => {
      const g = [new Float64Array(6), new Float64Array(6)];
      residualBackward(g[0]!, g[1]!, d, 6);
      return g;
    };
    expect(fdMaxError([a, b], run, back)).toBeLessThan(FD_TOL);
  });
});
