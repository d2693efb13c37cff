/**
 * Receipts: the requester's signed statement that a provider's unit was
 * accepted, worth `flops` of work. Anyone can verify one offline from the
 * requester's peer id (= its public key). The receipt id is the SHA-256 of the
 * signed bytes, so it names exactly one receipt; the nonce makes two receipts
 * for the same unit distinct, and a ReceiptStore refuses both a seen id and a
 * second receipt for the same (requester, provider, job, unit).
 */
import * as v from 'valibot';
import { base64urlEncode, randomId } from '../bytes';
import { sign, verify, type Identity, type PeerId } from '../identity';
import { DOMAIN, LIMITS, NETWORK_ID_PATTERN } from './constants';
import { encodeCanonical } from './encoding';
import { ReceiptError } from './errors';

/**
 * v2 names the network it was issued on (signaling SPEC BIND1), so a receipt from
 * one deployment can never be logged by another. v1 receipts (no network) are
 * what earlier releases wrote: logs holding them still load and verify.
 */
/** Receipts that name the network (BIND1); MODEL_RECEIPT_VERSION ones also name the model version that computed the unit. */
export const RECEIPT_VERSION = 2;
export const MODEL_RECEIPT_VERSION = 3;
export const LEGACY_RECEIPT_VERSION = 1;

/**
 * Shape only: the one-spelling rule for keys and signatures (identity.ts) is
 * applied by `verify` (requester, signature) and by whoever credits (provider),
 * so each receipt of a batch gets its own reason instead of failing the batch.
 */
const PeerIdSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/));
const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.idChars));
const Uint = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));

const receiptFields = {
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  requester: PeerIdSchema,
  provider: PeerIdSchema,
  jobId: Id,
  unitId: Uint(2 ** 31),
  flops: Uint(LIMITS.maxFlops),
  durationMs: Uint(LIMITS.maxDurationMs),
  issuedAt: Uint(LIMITS.maxFlops),
  nonce: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}$/)),
  signature: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{86}$/)),
};

export const ReceiptSchema = v.variant('v', [
  v.strictObject({
    v: v.literal(MODEL_RECEIPT_VERSION),
    network: v.pipe(v.string(), v.regex(NETWORK_ID_PATTERN)),
    /** The model version (xxh3-128, tensor/model-version.ts) the unit was computed with. */
    model: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)),
    ...receiptFields,
  }),
  v.strictObject({
    v: v.literal(RECEIPT_VERSION),
    network: v.pipe(v.string(), v.regex(NETWORK_ID_PATTERN)),
    ...receiptFields,
  }),
  v.strictObject({ v: v.literal(LEGACY_RECEIPT_VERSION), ...receiptFields }),
]);
export type Receipt = v.InferOutput<typeof ReceiptSchema>;
/** What the requester signs: every field but the id and the signature (`network` absent only in v1). */
export type ReceiptBody = Omit<Extract<Receipt, { v: 2 }>, 'id' | 'signature' | 'v'> & { model?: string };
type AnyReceiptBody = ReceiptBody | Omit<Extract<Receipt, { v: 1 }>, 'id' | 'signature' | 'v'>;

export function receiptBytes(body: AnyReceiptBody): Uint8Array {
  const common = [
    body.requester,
    body.provider,
    body.jobId,
    body.unitId,
    body.flops,
    body.durationMs,
    body.issuedAt,
    body.nonce,
  ];
  if ('model' in body && body.model !== undefined)
    return encodeCanonical(DOMAIN.receipt, [MODEL_RECEIPT_VERSION, body.network, body.model, ...common]);
  if ('network' in body && body.network !== undefined)
    return encodeCanonical(DOMAIN.receipt, [RECEIPT_VERSION, body.network, ...common]);
  return encodeCanonical(DOMAIN.receipt, [LEGACY_RECEIPT_VERSION, ...common]);
}

async function receiptId(bytes: Uint8Array): Promise<string> {
  return base64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)));
}

export interface ReceiptTerms {
  /** The network the pairing was made on (from the server's `matched`). */
  network: string;
  provider: PeerId;
  jobId: string;
  unitId: number;
  flops: number;
  durationMs: number;
  issuedAt?: number;
  /** The model version that computed the unit; the receipt names it (version 3) when given. */
  model?: string;
}

/** Requester side, once per accepted unit per provider. */
export async function issueReceipt(requester: Identity, terms: ReceiptTerms): Promise<Receipt> {
  const body: ReceiptBody = {
    network: terms.network,
    requester: requester.peerId,
    provider: terms.provider,
    jobId: terms.jobId,
    unitId: terms.unitId,
    flops: Math.round(terms.flops),
    durationMs: Math.round(terms.durationMs),
    issuedAt: Math.floor(terms.issuedAt ?? Date.now()),
    nonce: randomId(16),
    ...(terms.model !== undefined && { model: terms.model }),
  };
  const bytes = receiptBytes(body);
  const parsed = v.safeParse(ReceiptSchema, {
    v: terms.model !== undefined ? MODEL_RECEIPT_VERSION : RECEIPT_VERSION,
    id: await receiptId(bytes),
    ...body,
    signature: await sign(requester, bytes),
  });
  if (!parsed.success)
    throw new ReceiptError(
      'invalid-receipt',
      parsed.issues.map((i) => `${v.getDotPath(i) ?? 'receipt'}: ${i.message}`).join('; '),
    );
  return parsed.output;
}

export interface VerifyReceiptOptions {
  /** Reject receipts naming any other provider (a provider importing its own receipts, SPEC TRUST-R3). */
  provider?: PeerId;
  /** Accept only receipts from these requesters. */
  requesters?: ReadonlySet<PeerId>;
}

/** Offline verification; returns the typed receipt or throws ReceiptError. */
export async function verifyReceipt(value: unknown, options: VerifyReceiptOptions = {}): Promise<Receipt> {
  const parsed = v.safeParse(ReceiptSchema, value);
  if (!parsed.success)
    throw new ReceiptError(
      'invalid-receipt',
      parsed.issues.map((i) => `${v.getDotPath(i) ?? 'receipt'}: ${i.message}`).join('; '),
    );
  const r = parsed.output;
  if (options.provider !== undefined && r.provider !== options.provider)
    throw new ReceiptError('wrong-recipient', `receipt is for ${r.provider}`);
  if (options.requesters && !options.requesters.has(r.requester))
    throw new ReceiptError('wrong-recipient', `receipt from unknown requester ${r.requester}`);
  const bytes = receiptBytes(r);
  if ((await receiptId(bytes)) !== r.id)
    throw new ReceiptError('invalid-receipt', 'receipt id does not match its contents');
  if (!(await verify(r.requester, bytes, r.signature)))
    throw new ReceiptError('bad-signature', 'requester signature does not verify');
  return r;
}

export function receiptUnitKey(r: Pick<Receipt, 'requester' | 'provider' | 'jobId' | 'unitId'>): string {
  return JSON.stringify([r.requester, r.provider, r.jobId, r.unitId]);
}

/** Replay guard: one credit per receipt id and per (requester, provider, job, unit). In-memory; the persisted log enforces the same on the server. */
export class ReceiptStore {
  private readonly byId = new Map<string, Receipt>();
  private readonly unitKeys = new Set<string>();

  /** Verifies and stores; throws ReceiptError('replay') on a duplicate. */
  async add(value: unknown, options: VerifyReceiptOptions = {}): Promise<Receipt> {
    const r = await verifyReceipt(value, options);
    this.admit(r);
    return r;
  }

  /** For receipts already verified (e.g. read back from the provider's own IndexedDB). */
  admit(r: Receipt): void {
    if (this.byId.has(r.id)) throw new ReceiptError('replay', `receipt ${r.id} already recorded`);
    const key = receiptUnitKey(r);
    if (this.unitKeys.has(key))
      throw new ReceiptError(
        'replay',
        `unit ${r.jobId}/${r.unitId} already credited to this provider by this requester`,
      );
    this.byId.set(r.id, r);
    this.unitKeys.add(key);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): Receipt[] {
    return [...this.byId.values()];
  }
}
