/**
 * Signed results. The provider signs (network, requester, session, provider,
 * job, unit, input hash, result hash) in the canonical encoding under
 * DOMAIN.result; the requester drops anything unsigned, mis-signed, signed for
 * another network, requester or pairing session, or over other inputs or other
 * outputs than the ones it received, before comparing a single value. Binding
 * the session means a result signed for one pairing cannot be replayed into
 * another, even of the same job (signaling SPEC BIND2).
 */
import * as v from 'valibot';
import { sign, verify, type Identity, type PeerId } from '../identity';
import { DOMAIN, LIMITS, NETWORK_ID_PATTERN, SESSION_ID_PATTERN } from './constants';
import { encodeCanonical } from './encoding';

const Hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
export const SignedResultSchema = v.strictObject({
  network: v.pipe(v.string(), v.regex(NETWORK_ID_PATTERN)),
  requester: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  session: v.pipe(v.string(), v.regex(SESSION_ID_PATTERN)),
  provider: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  jobId: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.idChars)),
  unitId: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31)),
  inputHash: Hash,
  resultHash: Hash,
  signature: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{86}$/)),
});
export type SignedResult = v.InferOutput<typeof SignedResultSchema>;
export type ResultClaim = Omit<SignedResult, 'provider' | 'signature'>;

export function resultClaimBytes(provider: PeerId, claim: ResultClaim): Uint8Array {
  return encodeCanonical(DOMAIN.result, [
    claim.network,
    claim.requester,
    claim.session,
    provider,
    claim.jobId,
    claim.unitId,
    claim.inputHash,
    claim.resultHash,
  ]);
}

/** Provider side: sign what was computed. Hashes come from `hashOutputs` (tensor.ts). */
export async function signResult(identity: Identity, claim: ResultClaim): Promise<SignedResult> {
  const signature = await sign(identity, resultClaimBytes(identity.peerId, claim));
  return { provider: identity.peerId, ...claim, signature };
}

export type ResultCheck =
  | { ok: true; result: SignedResult }
  | {
      ok: false;
      reason:
        | 'malformed'
        | 'bad-signature'
        | 'wrong-provider'
        | 'wrong-session'
        | 'wrong-unit'
        | 'wrong-input'
        | 'wrong-result';
    };

export interface ExpectedResult {
  /** The network the pairing was made on, the requester's own key and the pairing's session (server's `matched`). */
  network: string;
  requester: PeerId;
  session: string;
  /** The peer the unit was sent to (the data channel's authenticated peer). */
  provider: PeerId;
  jobId: string;
  unitId: number;
  /** Hash of the inputs the requester sent. */
  inputHash: string;
  /** Hash the requester computed over the outputs it received. */
  resultHash: string;
}

/** Requester side: `ok: false` means drop the result (SPEC TRUST-S2). Never throws. */
export async function verifySignedResult(value: unknown, expected: ExpectedResult): Promise<ResultCheck> {
  const parsed = v.safeParse(SignedResultSchema, value);
  if (!parsed.success) return { ok: false, reason: 'malformed' };
  const r = parsed.output;
  if (r.provider !== expected.provider) return { ok: false, reason: 'wrong-provider' };
  if (r.network !== expected.network || r.requester !== expected.requester || r.session !== expected.session)
    return { ok: false, reason: 'wrong-session' };
  if (r.jobId !== expected.jobId || r.unitId !== expected.unitId) return { ok: false, reason: 'wrong-unit' };
  if (r.inputHash !== expected.inputHash) return { ok: false, reason: 'wrong-input' };
  if (r.resultHash !== expected.resultHash) return { ok: false, reason: 'wrong-result' };
  if (!(await verify(r.provider, resultClaimBytes(r.provider, r), r.signature)))
    return { ok: false, reason: 'bad-signature' };
  return { ok: true, result: r };
}
