/** Receipts for tests: honest ones from the trust core, and hand-built ones the trust core would never issue. */
import { base64urlEncode, randomId } from '@shared/bytes';
import type { Backend } from '@shared/protocol';
import type { TrustLedger } from '../ledger';
import { TEST_NETWORK } from './fixtures';
import { createIdentity, sign, type Identity } from '@shared/identity';
import { issueReceipt, receiptBytes, RECEIPT_VERSION, type Receipt, type ReceiptBody } from '@shared/trust';

let unit = 0;

/** An honest receipt from `requester` for `provider`; each call credits a new unit unless `unitId` is given. */
export function receiptFor(
  requester: Identity,
  provider: string,
  terms: { jobId?: string; unitId?: number; flops?: number; issuedAt?: number; network?: string; model?: string } = {},
): Promise<Receipt> {
  return issueReceipt(requester, {
    network: terms.network ?? TEST_NETWORK,
    provider,
    jobId: terms.jobId ?? 'job-00001',
    unitId: terms.unitId ?? unit++,
    flops: terms.flops ?? 1e9,
    durationMs: 100,
    issuedAt: terms.issuedAt ?? 1_000_000,
    model: terms.model,
  });
}

/** Signs any body with a correct id, e.g. a provider key the trust core's schema admits but the server must not. */
export async function signBody(
  requester: Identity,
  body: Partial<ReceiptBody> & Pick<ReceiptBody, 'provider'>,
): Promise<Receipt> {
  const full: ReceiptBody = {
    network: TEST_NETWORK,
    requester: requester.peerId,
    jobId: 'job-00001',
    unitId: unit++,
    flops: 1e9,
    durationMs: 100,
    issuedAt: 1_000_000,
    nonce: randomId(16),
    ...body,
  };
  const bytes = receiptBytes(full);
  const id = base64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)));
  return { v: RECEIPT_VERSION, id, ...full, signature: await sign(requester, bytes) };
}

/** Another spelling of the same 32 bytes: the last base64url character's two padding bits set. */
export function nonCanonical(peerId: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return peerId.slice(0, -1) + alphabet[alphabet.indexOf(peerId.at(-1)!) ^ 1];
}

export async function peerIds(n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => (await createIdentity()).peerId));
}

/**
 * Registers the pairings receipts need (SPEC CREDIT10) as if the matchmaker had
 * paired each provider with `requester`'s job at `at` (default 0, long before the
 * tests' clocks, so the FLOP budget is no constraint) and they are still paired.
 * Tests of other rules use it; tests of CREDIT10–12 pair through the matchmaker.
 */
export function pairWith(
  ledger: TrustLedger,
  requester: string,
  providers: readonly string[],
  terms: { jobId?: string; at?: number; backend?: Backend; jobUnits?: number } = {},
): void {
  for (const provider of providers)
    ledger.pairings.start(
      requester,
      terms.jobId ?? 'job-00001',
      provider,
      terms.backend ?? 'webgpu',
      terms.jobUnits ?? 10_000_000,
      terms.at ?? 0,
    );
}
