/**
 * A together job's audit log as one file: the job's spec (it names the seed, so version 0 is rebuilt from
 * it), then every round patch in order. Anyone replays it to the final version and compares hashes:
 *
 *   "SLA1" · u32 spec JSON length · spec JSON · u32 rounds · rounds × (u32 length · round patch)
 *
 * The part after the spec is a chain (encodeChain): what a provider joining mid-training receives instead
 * of the current version whole when it is smaller.
 */
import { parseTrainSpec, type TrainSpec } from '../train/spec';
import { hyperFor } from '../train/session';
import { newTrainState } from '../../train';
import { COMPRESS_DEFAULTS } from './compress';
import { RoundPatchError } from './errors';
import { makeVersion, type Version } from './outer';
import { applyRoundPatch, decodeRoundPatch } from './patch';

const MAGIC = 0x31414c53; // "SLA1"

export function encodeAudit(spec: TrainSpec, patches: readonly Uint8Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(spec));
  const chain = encodeChain(patches);
  const out = new Uint8Array(8 + json.length + chain.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(chain, 8 + json.length);
  return out;
}

/** Round patches in order, as the audit log and a joining provider's catch-up carry them: u32 count · (u32 length · patch)*. */
export function encodeChain(patches: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4 + patches.reduce((s, p) => s + 4 + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, patches.length, true);
  let at = 4;
  for (const p of patches) {
    dv.setUint32(at, p.length, true);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** The patches of an encoded chain (views into `bytes`); throws RoundPatchError if it is cut short or runs over. */
export function decodeChain(bytes: Uint8Array): Uint8Array[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw new RoundPatchError('the chain of round patches is truncated');
  };
  need(0, 4);
  const count = dv.getUint32(0, true);
  let at = 4;
  const patches: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    need(at, 4);
    const len = dv.getUint32(at, true);
    need(at + 4, len);
    patches.push(bytes.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== bytes.length) throw new RoundPatchError('the chain of round patches has bytes left over');
  return patches;
}

export function decodeAudit(bytes: Uint8Array): { spec: TrainSpec; patches: Uint8Array[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw new RoundPatchError('the audit log is truncated');
  };
  need(0, 8);
  if (dv.getUint32(0, true) !== MAGIC) throw new RoundPatchError('not a training-together audit log');
  const jsonLength = dv.getUint32(4, true);
  need(8, jsonLength);
  let spec: TrainSpec;
  try {
    spec = parseTrainSpec(
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + jsonLength))),
    );
  } catch (e) {
    throw new RoundPatchError(`the audit log's job spec is not valid: ${(e as Error).message}`);
  }
  const patches = decodeChain(bytes.subarray(8 + jsonLength));
  return { spec, patches };
}

/** Version 0 of a together job: the engine's seeded initial weights. */
export async function initialVersion(spec: TrainSpec): Promise<Version> {
  return makeVersion(0, newTrainState(spec.model, hyperFor(spec), spec.seed).params.slice(), null);
}

/** Rebuilds every version from version 0 through the log; throws RoundPatchError where one does not match. */
export async function replayAudit(bytes: Uint8Array): Promise<Version> {
  const { spec, patches } = decodeAudit(bytes);
  return replayChain(spec, patches);
}

/**
 * Version 0 rebuilt from the spec's seed, then each round patch in order: how an audit is checked and how a
 * provider joining mid-training catches up, when the chain is smaller than the version sent whole.
 */
export async function replayChain(spec: TrainSpec, patches: readonly Uint8Array[]): Promise<Version> {
  if (!spec.together) throw new RoundPatchError('the round patches are not of a together job');
  let v = await initialVersion(spec);
  const shape = { n: v.params.length, chunk: COMPRESS_DEFAULTS.chunk, topK: spec.together.topK };
  for (const p of patches) v = await applyRoundPatch(v, decodeRoundPatch(p), shape);
  return v;
}
