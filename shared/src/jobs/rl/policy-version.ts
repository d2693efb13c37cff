/**
 * What a policy version is and how it travels. The trainer keeps f32 master weights; the policy it
 * publishes is their bf16 rounding (as GRAIL serves bf16 policies), which providers sample from and the
 * trainer verifies against. Consecutive versions differ only where an update moved a weight across a
 * bf16 step, so the PULSE patch between them carries few values (at GRAIL's learning rates ~1%). A
 * version is named by the PULSE hash of its bf16 tensor; a patch names both ends, so applying one to the
 * wrong base fails instead of producing a silently different policy.
 */
import { apply } from '../../pulse/apply';
import { decode, encode } from '../../pulse/container';
import { DEFAULT_LIMITS, type DecodeLimits } from '../../pulse/constants';
import { diff, snapshot } from '../../pulse/diff';
import { hashModel, hashToHex } from '../../pulse/hash';
import type { Model } from '../../pulse/types';
import { fromBf16, toBf16 } from '../../train/state';
import { RlError } from './errors';

export interface PolicyVersion {
  /** Updates applied since the first published policy. */
  readonly version: number;
  readonly bf16: Uint16Array;
  /** The same values as f32, ready for an engine's parameter buffer. */
  readonly params: Float32Array;
  /** 32 hex digits: the PULSE hash of the bf16 tensor. */
  readonly hash: string;
}

export function policyModel(bf16: Uint16Array): Model {
  return { tensors: [{ name: 'policy', dtype: 'bf16', shape: [bf16.length], data: bf16 }] };
}

export async function policyFromBf16(version: number, bf16: Uint16Array): Promise<PolicyVersion> {
  return { version, bf16, params: fromBf16(bf16), hash: hashToHex(await hashModel(policyModel(bf16))) };
}

/** The policy the trainer publishes from its f32 master weights. */
export function publishPolicy(version: number, master: Float32Array): Promise<PolicyVersion> {
  return policyFromBf16(version, toBf16(master));
}

/**
 * The PULSE patch from one published version to the next. Conditioned (SPEC PULSE19): small steps change a
 * bf16 weight with a probability set by its exponent, which every provider holds; at GRAIL's lr 1e-6 that
 * makes the patch 1.4x smaller (bench:rl grail-regime) for ~20 ms more to encode and ~27 ms more to apply
 * at 4.8M values (2-core dev box).
 */
export async function encodePolicyPatch(prev: PolicyVersion, next: PolicyVersion): Promise<Uint8Array> {
  if (prev.bf16.length !== next.bf16.length) throw new RlError('policy', 'versions of different sizes');
  return encode(await diff(policyModel(prev.bf16), policyModel(next.bf16), { conditioned: true }));
}

/** The whole policy as a PULSE snapshot (a provider that joins, or whose rebuilt hash did not match). */
export async function encodePolicySnapshot(p: PolicyVersion): Promise<Uint8Array> {
  return encode(await snapshot(policyModel(p.bf16)));
}

function limitsFor(n: number): DecodeLimits {
  return {
    ...DEFAULT_LIMITS,
    maxTotalElements: Math.max(n, 1),
    maxTensorElements: Math.max(n, 1),
    maxChanges: Math.max(n, 1),
    maxTensors: 1,
  };
}

function onlyPolicy(m: Model, n: number | null): Uint16Array {
  const t = m.tensors[0];
  if (m.tensors.length !== 1 || !t || t.name !== 'policy' || t.dtype !== 'bf16' || (n !== null && t.data.length !== n))
    throw new RlError('policy', 'the patch does not hold this job’s bf16 policy tensor');
  return t.data as Uint16Array;
}

/** Applies a patch from `prev`; the result is version `version` (the sender names it). Throws on a wrong base. */
export async function applyPolicyPatch(
  prev: PolicyVersion,
  bytes: Uint8Array,
  version: number,
): Promise<PolicyVersion> {
  const patch = decode(bytes, limitsFor(prev.bf16.length));
  const model = await apply(policyModel(prev.bf16), patch, { baseHash: await hashModel(policyModel(prev.bf16)) });
  return policyFromBf16(version, onlyPolicy(model, prev.bf16.length).slice());
}

/** A snapshot of `parameters` values; null: whatever size it declares, up to the decoder's default limits. */
export async function policyFromSnapshot(
  bytes: Uint8Array,
  version: number,
  parameters: number | null,
): Promise<PolicyVersion> {
  const patch = decode(bytes, parameters === null ? DEFAULT_LIMITS : limitsFor(parameters));
  if (patch.baseHash !== null) throw new RlError('policy', 'a snapshot has no base');
  const model = await apply(null, patch);
  return policyFromBf16(version, onlyPolicy(model, parameters).slice());
}
