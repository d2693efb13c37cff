/**
 * Memory layout, laid out once (llm.c style): every parameter, gradient,
 * activation and optimizer moment is a named view into ONE flat buffer of
 * 32-bit slots. Offsets and sizes count slots (floats), so a backend can
 * use them as indices into a Float32Array/Float64Array or, ×4, as byte
 * offsets into WebAssembly memory or a GPU buffer.
 *
 *   params | grads | adam m | adam v | acts | dacts | tokens | targets | scalars
 *
 * grads, m and v share the params' layout; dacts the acts' layout.
 */

import type { GptConfig, MlpConfig, ModelConfig } from './config';
import { TrainConfigError } from './errors';

/** Scalar slots at arena.scalarsAt: the batch's mean loss and the gradient norm before clipping. */
export const SCALAR_LOSS = 0;
export const SCALAR_GRAD_NORM = 1;
const SCALARS = 4;

/** 4 slots = 16 bytes: every tensor starts on a SIMD lane boundary (f32x4 in WASM, vec4 in WGSL). */
const ALIGN = 4;

export interface TensorSpec {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
}

export interface Layout {
  /** Slots spanned, including alignment padding. */
  readonly size: number;
  readonly tensors: readonly TensorSpec[];
}

export function buildLayout(entries: readonly (readonly [string, readonly number[]])[]): Layout {
  const tensors: TensorSpec[] = [];
  let offset = 0;
  for (const [name, shape] of entries) {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, offset, size, shape });
    offset += Math.ceil(size / ALIGN) * ALIGN;
  }
  return { size: offset, tensors };
}

/** Offsets by name, resolved once; a missing name is a programming error. */
export function offsets(layout: Layout, base = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of layout.tensors) out[t.name] = base + t.offset;
  return out;
}

export function tensorSpec(layout: Layout, name: string): TensorSpec {
  const t = layout.tensors.find((x) => x.name === name);
  if (t === undefined) throw new TrainConfigError(`no tensor ${name} in this layout`);
  return t;
}

/** GPT-2's parameter order: embeddings, then per block ln1, qkv, attn proj, ln2, fc, fc proj; final LayerNorm. */
export function gptParamEntries(c: GptConfig): [string, number[]][] {
  const C = c.width;
  const e: [string, number[]][] = [
    ['wte', [c.vocab, C]],
    ['wpe', [c.context, C]],
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `h${l}.`;
    e.push(
      [`${p}ln1w`, [C]],
      [`${p}ln1b`, [C]],
      [`${p}qkvw`, [3 * C, C]],
      [`${p}qkvb`, [3 * C]],
      [`${p}attprojw`, [C, C]],
      [`${p}attprojb`, [C]],
      [`${p}ln2w`, [C]],
      [`${p}ln2b`, [C]],
      [`${p}fcw`, [4 * C, C]],
      [`${p}fcb`, [4 * C]],
      [`${p}fcprojw`, [C, 4 * C]],
      [`${p}fcprojb`, [C]],
    );
  }
  e.push(['lnfw', [C]], ['lnfb', [C]]);
  return e;
}

/** Activations for a (B, T) batch; the backward's activation gradients reuse this layout. */
export function gptActEntries(c: GptConfig, B: number, T: number): [string, number[]][] {
  const C = c.width;
  const e: [string, number[]][] = [['encoded', [B, T, C]]];
  for (let l = 0; l < c.layers; l++) {
    const p = `h${l}.`;
    e.push(
      [`${p}ln1`, [B, T, C]],
      [`${p}ln1Mean`, [B, T]],
      [`${p}ln1Rstd`, [B, T]],
      [`${p}qkv`, [B, T, 3 * C]],
      [`${p}atty`, [B, T, C]],
      [`${p}att`, [B, c.heads, T, T]],
      [`${p}attproj`, [B, T, C]],
      [`${p}residual2`, [B, T, C]],
      [`${p}ln2`, [B, T, C]],
      [`${p}ln2Mean`, [B, T]],
      [`${p}ln2Rstd`, [B, T]],
      [`${p}fch`, [B, T, 4 * C]],
      [`${p}fchGelu`, [B, T, 4 * C]],
      [`${p}fcproj`, [B, T, C]],
      [`${p}residual3`, [B, T, C]],
    );
  }
  e.push(
    ['lnf', [B, T, C]],
    ['lnfMean', [B, T]],
    ['lnfRstd', [B, T]],
    ['logits', [B, T, c.vocab]],
    ['probs', [B, T, c.vocab]],
    ['losses', [B, T]],
  );
  return e;
}

export function mlpParamEntries(c: MlpConfig): [string, number[]][] {
  return [
    ['fc1w', [c.hidden, c.inputs]],
    ['fc1b', [c.hidden]],
    ['fc2w', [c.classes, c.hidden]],
    ['fc2b', [c.classes]],
  ];
}

/** The MLP's input rows live in the activations (floats), its labels in the targets region. */
export function mlpActEntries(c: MlpConfig, B: number): [string, number[]][] {
  return [
    ['x', [B, c.inputs]],
    ['h', [B, c.hidden]],
    ['hGelu', [B, c.hidden]],
    ['logits', [B, c.classes]],
    ['probs', [B, c.classes]],
    ['losses', [B]],
  ];
}

/** Where each region of the one buffer starts, in slots. */
export interface Arena {
  readonly config: ModelConfig;
  /** Batch rows and sequence length (T = 1 for the MLP). */
  readonly B: number;
  readonly T: number;
  readonly params: Layout;
  readonly acts: Layout;
  readonly paramsAt: number;
  readonly gradsAt: number;
  readonly mAt: number;
  readonly vAt: number;
  readonly actsAt: number;
  readonly dactsAt: number;
  readonly tokensAt: number;
  readonly targetsAt: number;
  /** SCALARS slots of step results kept beside the data (the loss, the gradient norm). */
  readonly scalarsAt: number;
  /** Total slots. */
  readonly size: number;
  /** Slots actually holding parameters (the layout's size less padding). */
  readonly paramCount: number;
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

export function arenaFor(config: ModelConfig, B: number, T: number): Arena {
  if (!Number.isInteger(B) || B < 1) throw new TrainConfigError(`batch must be a positive integer, got ${B}`);
  if (config.kind === 'gpt' && (!Number.isInteger(T) || T < 1 || T > config.context))
    throw new TrainConfigError(`sequence length ${T} must be within 1..${config.context}`);
  const params = buildLayout(config.kind === 'gpt' ? gptParamEntries(config) : mlpParamEntries(config));
  const acts = buildLayout(config.kind === 'gpt' ? gptActEntries(config, B, T) : mlpActEntries(config, B));
  const rows = config.kind === 'gpt' ? B * T : B;
  const P = params.size;
  const actsAt = 4 * P;
  const dactsAt = actsAt + acts.size;
  const tokensAt = dactsAt + acts.size;
  const targetsAt = tokensAt + align(rows);
  return {
    config,
    B,
    T: config.kind === 'gpt' ? T : 1,
    params,
    acts,
    paramsAt: 0,
    gradsAt: P,
    mAt: 2 * P,
    vAt: 3 * P,
    actsAt,
    dactsAt,
    tokensAt,
    targetsAt,
    scalarsAt: targetsAt + align(rows),
    size: targetsAt + align(rows) + SCALARS,
    paramCount: params.tensors.reduce((s, t) => s + t.size, 0),
  };
}
