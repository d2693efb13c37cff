/**
 * Training state: everything needed to continue a run bit-identically —
 * config, optimizer settings, step counter, loader position, f32 master
 * weights and both AdamW moments — and its byte form for checkpoints:
 *
 *   "GTS1" · u32 header bytes · UTF-8 JSON header · pad to 4 · params · m · v  (f32, little-endian)
 *
 * bf16 snapshots (round to nearest even) are what a run publishes.
 */
import { type GptConfig, type MlpConfig, type ModelConfig, validateGptConfig } from './config';
import type { Backend } from './backend';
import { TrainStateError } from './errors';
import { initParams } from './init';
import type { AdamWHyper } from './kernels';
import { buildLayout, gptParamEntries, type Layout, mlpParamEntries } from './layout';

/** Where a seeded loader stands (data.ts), so a restored run reads the same batches next. */
export interface LoaderPosition {
  readonly seed: number;
  readonly epoch: number;
  readonly cursor: number;
}

export interface TrainState {
  readonly config: ModelConfig;
  readonly hyper: AdamWHyper;
  readonly initSeed: number;
  /** Steps taken; the next step is step + 1. */
  step: number;
  loader: LoaderPosition;
  /** Parameter layout slots (padding included), so a state drops straight into an arena. */
  readonly params: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

const MAGIC = 0x31535447; // "GTS1" little-endian
/** Checkpoint headers are a few hundred bytes; 64 KiB bounds a hostile one before parsing. */
const MAX_HEADER_BYTES = 65536;

export function paramLayout(config: ModelConfig): Layout {
  return buildLayout(config.kind === 'gpt' ? gptParamEntries(validateGptConfig(config)) : mlpParamEntries(config));
}

export function newTrainState(
  config: ModelConfig,
  hyper: AdamWHyper,
  initSeed: number,
  loaderSeed = initSeed,
): TrainState {
  const layout = paramLayout(config);
  return {
    config,
    hyper,
    initSeed,
    step: 0,
    loader: { seed: loaderSeed, epoch: 0, cursor: 0 },
    params: Float32Array.from(initParams(config, layout, initSeed)),
    m: new Float32Array(layout.size),
    v: new Float32Array(layout.size),
  };
}

/** Puts weights and moments into a backend whose arena has this state's config. */
export function restoreInto(b: Backend, s: TrainState): void {
  const a = b.arena;
  if (a.params.size !== s.params.length) throw new TrainStateError('state does not match the backend arena');
  b.writeFloats(a.paramsAt, s.params);
  b.writeFloats(a.mAt, s.m);
  b.writeFloats(a.vAt, s.v);
}

/** Reads weights and moments back from the backend into the state (rounded to f32). */
export function captureFrom(b: Backend, s: TrainState): void {
  const a = b.arena;
  s.params.set(b.readFloats(a.paramsAt, s.params.length));
  s.m.set(b.readFloats(a.mAt, s.m.length));
  s.v.set(b.readFloats(a.vAt, s.v.length));
}

export function serializeState(s: TrainState): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ config: s.config, hyper: s.hyper, initSeed: s.initSeed, step: s.step, loader: s.loader }),
  );
  const headerEnd = 8 + Math.ceil(header.length / 4) * 4;
  const n = s.params.length;
  const out = new Uint8Array(headerEnd + 12 * n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, header.length, true);
  out.set(header, 8);
  [s.params, s.m, s.v].forEach((arr, k) => {
    const at = headerEnd + 4 * n * k;
    for (let i = 0; i < n; i++) dv.setFloat32(at + 4 * i, arr[i]!, true);
  });
  return out;
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

function checkConfig(c: unknown): ModelConfig {
  const o = c as Record<string, unknown> | null;
  if (o?.kind === 'gpt') {
    for (const k of ['layers', 'width', 'heads', 'context', 'vocab'])
      if (!isInt(o[k])) throw new TrainStateError(`bad config.${k}`);
    return validateGptConfig(o as unknown as GptConfig);
  }
  if (o?.kind === 'mlp') {
    for (const k of ['inputs', 'hidden', 'classes']) if (!isInt(o[k])) throw new TrainStateError(`bad config.${k}`);
    return o as unknown as MlpConfig;
  }
  throw new TrainStateError('unknown model kind');
}

export function deserializeState(bytes: Uint8Array): TrainState {
  if (bytes.length < 8) throw new TrainStateError('checkpoint too short');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new TrainStateError('not a training checkpoint');
  const hl = dv.getUint32(4, true);
  if (hl > MAX_HEADER_BYTES || 8 + hl > bytes.length) throw new TrainStateError('bad checkpoint header length');
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hl)));
  } catch {
    throw new TrainStateError('checkpoint header is not JSON');
  }
  const config = checkConfig(h.config);
  const hy = h.hyper as Record<string, unknown> | null;
  for (const k of ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'])
    if (typeof hy?.[k] !== 'number' || !Number.isFinite(hy[k])) throw new TrainStateError(`bad hyper.${k}`);
  const ld = h.loader as Record<string, unknown> | null;
  if (!isInt(h.step) || !isInt(h.initSeed) || !isInt(ld?.seed) || !isInt(ld?.epoch) || !isInt(ld?.cursor))
    throw new TrainStateError('bad step, seed or loader position');
  const n = paramLayout(config).size;
  const headerEnd = 8 + Math.ceil(hl / 4) * 4;
  if (bytes.length !== headerEnd + 12 * n) throw new TrainStateError(`checkpoint body is not 3 × ${n} floats`);
  const read = (k: number) => {
    const arr = new Float32Array(n);
    const at = headerEnd + 4 * n * k;
    for (let i = 0; i < n; i++) arr[i] = dv.getFloat32(at + 4 * i, true);
    return arr;
  };
  return {
    config,
    hyper: hy as unknown as AdamWHyper,
    initSeed: h.initSeed,
    step: h.step,
    loader: { seed: ld!.seed as number, epoch: ld!.epoch as number, cursor: ld!.cursor as number },
    params: read(0),
    m: read(1),
    v: read(2),
  };
}

/** bf16 of each f32, rounded to nearest even (NaN stays a quiet NaN). */
export function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = bits[i]!;
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) out[i] = (u >>> 16) | 0x40;
    else out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function fromBf16(x: Uint16Array): Float32Array {
  const out = new Uint32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! << 16;
  return new Float32Array(out.buffer);
}
