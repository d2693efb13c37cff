/**
 * The round patch: what the requester broadcasts after a round and providers forward to each other. It
 * carries the accepted contributions as they were revealed (already compressed ~350× below dense f32)
 * with their weights and the outer step's settings, and names the version it starts from and the one it
 * builds. A peer holding the base rebuilds the new version bit for bit (outer.ts) and checks its hash;
 * the same bytes, kept in order, are the job's audit log.
 *
 *   "SLR1" · u32 round · 16 B base hash · 16 B result hash · f32 lr · f32 momentum · u16 count ·
 *   count × (u8 key length · key (UTF-8) · f64 weight · u32 length · contribution bytes)
 *
 * The dense alternative — a PULSE f32 patch of the new weights — changes ~N·0.8% of the values by ~20 bits
 * each, several times larger (bench:train-net prints both).
 */
import { bytesToHex, hexToBytes } from '../../bytes';
import { type ContributionShape, contributionBoundBytes, decodeContribution } from './codec';
import type { Contribution } from './compress';
import { RoundPatchError } from './errors';
import { outerStep, type OuterOptions, type Version } from './outer';

const MAGIC = 0x31524c53; // "SLR1"
const MAX_ENTRIES = 4096;

export interface PatchEntry {
  readonly provider: string;
  readonly weight: number;
  readonly bytes: Uint8Array;
}

export interface RoundPatch {
  readonly round: number;
  readonly baseHash: string;
  readonly resultHash: string;
  readonly outer: OuterOptions;
  readonly entries: readonly PatchEntry[];
}

export function encodeRoundPatch(p: RoundPatch): Uint8Array {
  const keys = p.entries.map((e) => new TextEncoder().encode(e.provider));
  const size = 4 + 4 + 32 + 8 + 2 + p.entries.reduce((s, e, i) => s + 1 + keys[i]!.length + 8 + 4 + e.bytes.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, p.round, true);
  out.set(hexToBytes(p.baseHash), 8);
  out.set(hexToBytes(p.resultHash), 24);
  dv.setFloat32(40, p.outer.lr, true);
  dv.setFloat32(44, p.outer.momentum, true);
  dv.setUint16(48, p.entries.length, true);
  let at = 50;
  p.entries.forEach((e, i) => {
    const key = keys[i]!;
    if (key.length > 255) throw new RoundPatchError('a provider key is too long');
    out[at++] = key.length;
    out.set(key, at);
    at += key.length;
    dv.setFloat64(at, e.weight, true);
    dv.setUint32(at + 8, e.bytes.length, true);
    out.set(e.bytes, at + 12);
    at += 12 + e.bytes.length;
  });
  return out;
}

export function decodeRoundPatch(bytes: Uint8Array): RoundPatch {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > bytes.length) throw new RoundPatchError('the round patch is truncated');
  };
  need(0, 50);
  if (dv.getUint32(0, true) !== MAGIC) throw new RoundPatchError('not a round patch (bad magic)');
  const count = dv.getUint16(48, true);
  if (count > MAX_ENTRIES) throw new RoundPatchError('the round patch has too many entries');
  const entries: PatchEntry[] = [];
  let at = 50;
  for (let i = 0; i < count; i++) {
    need(at, 1);
    const len = bytes[at++]!;
    need(at, len + 12);
    const provider = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(at, at + len));
    at += len;
    const weight = dv.getFloat64(at, true);
    const size = dv.getUint32(at + 8, true);
    at += 12;
    need(at, size);
    if (!(weight > 0 && Number.isFinite(weight))) throw new RoundPatchError('an entry has no positive weight');
    entries.push({ provider, weight, bytes: bytes.subarray(at, at + size) });
    at += size;
  }
  if (at !== bytes.length) throw new RoundPatchError('the round patch has bytes left over');
  return {
    round: dv.getUint32(4, true),
    baseHash: bytesToHex(bytes.subarray(8, 24)),
    resultHash: bytesToHex(bytes.subarray(24, 40)),
    outer: { lr: dv.getFloat32(40, true), momentum: dv.getFloat32(44, true) },
    entries,
  };
}

/** Decodes every entry against the job's shape (a ContributionError names the entry's provider). */
export function patchContributions(p: RoundPatch, shape: ContributionShape): Contribution[] {
  return p.entries.map((e) => {
    try {
      return decodeContribution(e.bytes, shape);
    } catch (err) {
      throw new RoundPatchError(`${e.provider}'s contribution in the patch: ${(err as Error).message}`);
    }
  });
}

/** Rebuilds the next version from `base`; throws RoundPatchError on the wrong base or a hash mismatch. */
export async function applyRoundPatch(base: Version, p: RoundPatch, shape: ContributionShape): Promise<Version> {
  if (base.hash !== p.baseHash) throw new RoundPatchError(`the patch is for version ${p.baseHash}, not ${base.hash}`);
  const contributions = patchContributions(p, shape);
  const next = await outerStep(
    base,
    contributions.map((contribution, i) => ({ contribution, weight: p.entries[i]!.weight })),
    p.outer,
  );
  if (next.hash !== p.resultHash)
    throw new RoundPatchError(`rebuilt version ${next.hash}, the patch names ${p.resultHash}: ask for the snapshot`);
  return next;
}

/** The patch's entropy bound: header and keys as they are, each contribution at its own bound. */
export function roundPatchBoundBytes(p: RoundPatch, shape: ContributionShape): number {
  const contributions = patchContributions(p, shape);
  let bound = 50;
  p.entries.forEach((e, i) => {
    bound += 1 + new TextEncoder().encode(e.provider).length + 12 + contributionBoundBytes(contributions[i]!);
  });
  return bound;
}
