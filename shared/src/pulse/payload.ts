/**
 * The entropy-coded body of a container: every tensor's values in one range
 * coded stream (models adapt across tensors, which helps small ones) plus the
 * raw-bit side stream.
 *
 * Per change in a sparse tensor: the gap to the previous changed position
 * (Exp-Golomb, adaptive), then either the sign-flip flag and the zig-zagged
 * magnitude delta in ulps (ulp tensors), or the new bit pattern (raw tensors).
 * Full tensors are a run of bit patterns.
 */

import { CorruptPatchError } from './errors';
import { RawValueModel, UIntModel } from './models';
import { newContexts, RangeDecoder, RangeEncoder } from './rangecoder';
import { allocData, DTYPES, type DType, type TensorPatch } from './types';

/** Per-dtype models: value statistics differ between bf16, f16 and f32. */
class DTypeModels {
  readonly flip = newContexts(1);
  readonly delta = new UIntModel();
  readonly flippedDelta = new UIntModel();
  readonly raw: RawValueModel;
  constructor(dtype: DType) {
    this.raw = new RawValueModel(dtype);
  }
}

class Models {
  readonly gaps = new UIntModel(true);
  private readonly byDType = new Map<DType, DTypeModels>();
  for(dtype: DType): DTypeModels {
    let m = this.byDType.get(dtype);
    if (m === undefined) {
      m = new DTypeModels(dtype);
      this.byDType.set(dtype, m);
    }
    return m;
  }
}

export function encodePayload(tensors: readonly TensorPatch[]): { coded: Uint8Array; raw: Uint8Array } {
  const enc = new RangeEncoder();
  const models = new Models();
  for (const t of tensors) {
    const m = models.for(t.dtype);
    if (t.kind === 'full') {
      for (let i = 0; i < t.data.length; i++) m.raw.encode(enc, t.data[i]!);
      continue;
    }
    const positions = t.positions;
    let prev = -1;
    if (t.kind === 'raw') {
      for (let i = 0; i < positions.length; i++) {
        const p = positions[i]!;
        models.gaps.encode(enc, p - prev - 1);
        prev = p;
        m.raw.encode(enc, t.bits[i]!);
      }
      continue;
    }
    const half = DTYPES[t.dtype].width === 16 ? 0x4000 : 0x40000000;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      models.gaps.encode(enc, p - prev - 1);
      prev = p;
      const flip = t.signFlips[i]!;
      enc.encodeBit(m.flip, 0, flip);
      const md = t.magnitudeDeltas[i]!;
      const signed = md >= half ? md - half * 2 : md;
      const zz = signed >= 0 ? signed * 2 : -signed * 2 - 1;
      if (flip) m.flippedDelta.encode(enc, zz);
      else m.delta.encode(enc, zz - 1);
    }
  }
  return enc.finish();
}

/** What the header promised for one tensor; sizes were checked against limits before this runs. */
export interface TensorLayout {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly kind: TensorPatch['kind'];
  readonly elements: number;
  readonly changes: number;
}

export function decodePayload(layouts: readonly TensorLayout[], coded: Uint8Array, raw: Uint8Array): TensorPatch[] {
  const dec = new RangeDecoder(coded, raw);
  const models = new Models();
  const out: TensorPatch[] = [];
  for (const l of layouts) {
    const m = models.for(l.dtype);
    const header = { name: l.name, dtype: l.dtype, shape: l.shape };
    if (l.kind === 'full') {
      const data = allocData(l.dtype, l.elements);
      for (let i = 0; i < data.length; i++) data[i] = m.raw.decode(dec);
      out.push({ ...header, kind: 'full', data });
      continue;
    }
    const positions = new Uint32Array(l.changes);
    let prev = -1;
    const nextPosition = (): number => {
      const p = prev + models.gaps.decode(dec) + 1;
      if (p >= l.elements) throw new CorruptPatchError(`tensor ${l.name}: position ${p} out of range`);
      prev = p;
      return p;
    };
    if (l.kind === 'raw') {
      const bits = new Uint32Array(l.changes);
      for (let i = 0; i < l.changes; i++) {
        positions[i] = nextPosition();
        bits[i] = m.raw.decode(dec);
      }
      out.push({ ...header, kind: 'raw', positions, bits });
      continue;
    }
    const width = DTYPES[l.dtype].width;
    const half = width === 16 ? 0x4000 : 0x40000000;
    const magMask = width === 16 ? 0x7fff : 0x7fffffff;
    const signFlips = new Uint8Array(l.changes);
    const magnitudeDeltas = new Uint32Array(l.changes);
    for (let i = 0; i < l.changes; i++) {
      positions[i] = nextPosition();
      const flip = dec.decodeBit(m.flip, 0);
      const zz = flip ? m.flippedDelta.decode(dec) : m.delta.decode(dec) + 1;
      const signed = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
      if (signed >= half || signed < -half) throw new CorruptPatchError(`tensor ${l.name}: ulp delta out of range`);
      signFlips[i] = flip;
      magnitudeDeltas[i] = signed & magMask;
    }
    out.push({ ...header, kind: 'ulp', positions, signFlips, magnitudeDeltas });
  }
  if (!dec.consumedAll()) throw new CorruptPatchError('payload has trailing bytes');
  return out;
}
