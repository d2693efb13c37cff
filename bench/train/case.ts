/**
 * What both variants of bench:train share — Node's bench/train.ts and Chromium's harness page
 * web/harness/train-bench.ts: the seeded case (tokenizer, batches, initial weights), TF.js's side of a
 * case, the figures' arithmetic and the rows they print. No Node or DOM API, so both can import it.
 */
import type * as TF from '@tensorflow/tfjs';
import {
  ADAMW_DEFAULTS,
  type AdamWHyper,
  type Batch,
  type GptConfig,
  type Layout,
  newTrainState,
  PRESETS,
  type PresetName,
  Tokenizer,
  TokenLoader,
  type TrainState,
} from '@shared/train';
import { TfjsGpt } from './tfjs-gpt';

type Tf = typeof TF;

export const SEED = 1234;
/** Batch shapes: the context fills T; B keeps a step around half a second for the small preset on one core. */
export const SHAPES: Record<PresetName, { B: number; T: number }> = {
  tiny: { B: 8, T: 64 },
  small: { B: 4, T: 128 },
};
/** Brown files to learn the tokenizer on and train from: 60 of 500 (~700 KB) keep BPE training to seconds. */
export const CORPUS_FILES = 60;
export const HP: AdamWHyper = { ...ADAMW_DEFAULTS, lr: 1e-3 };

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Tokens per second over a run's steps; the first step is left out (compilation and warm-up). */
export const tokensPerS = (B: number, T: number, ms: readonly number[]) => (B * T) / (median(ms.slice(1)) / 1000);

/** One training case: everything both sides start from, seeded, so losses after `steps` steps compare. */
export interface TrainCase {
  readonly preset: PresetName;
  readonly config: GptConfig;
  readonly B: number;
  readonly T: number;
  readonly batches: Batch[];
  /** The first validation batch: the loss both sides report after their steps. */
  readonly val: Batch;
  readonly state: TrainState;
}

export function trainCase(
  preset: PresetName,
  text: string,
  steps: number,
  shape: { B: number; T: number } = SHAPES[preset],
): TrainCase {
  const config = PRESETS[preset];
  const { B, T } = shape;
  const tok = Tokenizer.train(text, config.vocab);
  const loader = new TokenLoader(tok.encode(text), config, T, {
    seed: SEED,
    validationShare: 0.05,
    shard: 0,
    shards: 1,
  });
  const batches = Array.from({ length: steps }, () => loader.next(B));
  const val = loader.validation(B, 0)!;
  return { preset, config, B, T, batches, val, state: newTrainState(config, HP, SEED) };
}

/** A side's run of a case: per-step times (ms) and training losses, then the validation loss after. */
export interface StepsRun {
  readonly ms: number[];
  readonly stepLosses: number[];
  readonly loss: number;
}

/**
 * TF.js's side of a case: the twin started from the engine's initial weights (`layout` is the engine's
 * parameter layout) trained on the same batches. Per-step times in ms, and the validation loss after.
 */
export async function trainTwin(
  tf: Tf,
  c: TrainCase,
  layout: Layout,
  onFirstStep?: (ms: number) => void,
): Promise<StepsRun> {
  const twin = new TfjsGpt(tf, c.config, layout, c.state.params, HP);
  const ms: number[] = [];
  const stepLosses: number[] = [];
  for (const batch of c.batches) {
    const t0 = performance.now();
    stepLosses.push(await twin.step(batch.inputs as Int32Array, batch.targets, c.B, c.T));
    ms.push(performance.now() - t0);
    if (ms.length === 1) onFirstStep?.(ms[0]!);
  }
  const lt = tf.tidy(() => twin.loss(c.val.inputs as Int32Array, c.val.targets, c.B, c.T));
  const loss = (await lt.data())[0]!;
  lt.dispose();
  twin.dispose();
  return { ms, stepLosses, loss };
}

/** Repeats of an n×n matmul; the first run (warm-up) is not counted. */
export const matmulRepeats = (n: number) => (n >= 1024 ? 5 : 11);

/** Both operands of an n×n matmul, A then B, the same values on both sides. */
export function matmulOperands(n: number): Float32Array {
  return Float32Array.from({ length: 2 * n * n }, (_, i) => Math.sin(i) * 0.5);
}

/** GFLOP/s of an n×n×n matmul from its runs' times (the first left out). */
export const matmulGflops = (n: number, ms: readonly number[]) => (2 * n * n * n) / median(ms.slice(1)) / 1e6;

/** TF.js's matmul times over the same operands, each waited for (data()) so the GPU's work is in it. */
export async function tfjsMatmulMs(tf: Tf, n: number, repeats: number): Promise<number[]> {
  const ab = matmulOperands(n);
  const a = tf.tensor2d(ab.subarray(0, n * n), [n, n]);
  const b = tf.tensor2d(ab.subarray(n * n), [n, n]);
  const ms: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    // TF.js's fastest form (no transposed operand); the engine's is A·Bᵀ (its weights are (out, in)).
    const c = tf.matMul(a, b);
    await c.data();
    ms.push(performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  return ms;
}

export interface TrainRow {
  readonly case: string;
  readonly backend: string;
  readonly preset: PresetName;
  readonly steps: number;
  readonly batch: number;
  readonly context: number;
  readonly engineThreads: number;
  readonly tfjsThreads: number;
  readonly engineTokensPerS: number;
  readonly tfjsTokensPerS: number;
  readonly ratio: number;
  readonly lossEngine: number;
  readonly lossTfjs: number;
  readonly lossDiff: number;
}

export interface MatmulRow {
  readonly case: string;
  readonly backend: string;
  readonly engineMatmulGflops: number;
  readonly tfjsMatmulGflops: number;
  readonly ratio: number;
}

export interface TrainRun {
  readonly ms: readonly number[];
  readonly loss: number;
  readonly threads: number;
}

/** A training row from both sides' runs of one case (medians over steps; the ratio is engine / TF.js). */
export function trainRow(c: TrainCase, backend: string, engine: TrainRun, tfjs: TrainRun): TrainRow {
  const e = tokensPerS(c.B, c.T, engine.ms);
  const t = tokensPerS(c.B, c.T, tfjs.ms);
  return {
    case: `train-${c.preset}`,
    backend,
    preset: c.preset,
    steps: c.batches.length,
    batch: c.B,
    context: c.T,
    engineThreads: engine.threads,
    tfjsThreads: tfjs.threads,
    engineTokensPerS: Math.round(e),
    tfjsTokensPerS: Math.round(t),
    ratio: Number((e / t).toFixed(2)),
    lossEngine: Number(engine.loss.toFixed(6)),
    lossTfjs: Number(tfjs.loss.toFixed(6)),
    lossDiff: Number(Math.abs(engine.loss - tfjs.loss).toExponential(2)),
  };
}

export function matmulRow(n: number, backend: string, engineMs: readonly number[], tfjsMs: readonly number[]) {
  const e = matmulGflops(n, engineMs);
  const t = matmulGflops(n, tfjsMs);
  return {
    case: `matmul-${n}`,
    backend,
    engineMatmulGflops: Number(e.toFixed(e < 1 ? 3 : 1)),
    tfjsMatmulGflops: Number(t.toFixed(t < 1 ? 3 : 1)),
    ratio: Number((e / t).toFixed(2)),
  } satisfies MatmulRow;
}

export const matmulLine = (r: MatmulRow) =>
  `${r.case.padEnd(12)} ${r.backend.padEnd(7)} engine ${r.engineMatmulGflops} GFLOP/s  TF.js ${r.tfjsMatmulGflops} GFLOP/s  ×${r.ratio}`;

export const trainLine = (r: TrainRow, engineExtra = '') =>
  `${r.case.padEnd(12)} ${r.backend.padEnd(7)} engine ${r.engineTokensPerS} tok/s${engineExtra}  ` +
  `TF.js ${r.tfjsTokensPerS} tok/s  ×${r.ratio}` +
  `   val loss after ${r.steps} steps: engine ${r.lossEngine}  TF.js ${r.lossTfjs}  (|Δ| ${r.lossDiff})`;
