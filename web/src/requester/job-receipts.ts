/**
 * Receipts for one job's accepted units (SPEC TRUST-R*): each is signed by the
 * requester's key, sent to its provider over the data channel, and queued for
 * the server's log. Signing is chained so receipts leave in acceptance order,
 * and a job ends only after the last one is out.
 */
import { messageOf } from '@shared/errors';
import type { Identity } from '@shared/identity';
import type { PeerHeader } from '@shared/protocol';
import { issueReceipt } from '@shared/trust';
import type { ReceiptOutbox } from './receipt-outbox';

export interface JobReceiptsDeps {
  jobId: string;
  /** Without a key there are no receipts (the unkeyed network). */
  identity?: Identity;
  outbox: ReceiptOutbox;
  /** Sends the receipt to its provider, if its link is still up. */
  sendTo(peerId: string, header: PeerHeader): void;
  issued(): void;
  /** How many of the job's receipts the server's log has taken, after each ack. */
  logged?(count: number): void;
  failed(message: string): void;
}

export class JobReceipts {
  private chain = Promise.resolve();

  constructor(private readonly deps: JobReceiptsDeps) {
    // Logging outlives the job's pairing: the count keeps up even after the job is done.
    if (deps.logged) deps.outbox.onLogged(deps.jobId, deps.logged);
  }

  /** `network`: the pairing's, which the receipt names (SPEC BIND1); none means no server paired us: no receipt. */
  /** `model`: the model version that computed the unit; the receipt names it. */
  issue(
    provider: string,
    unitId: number,
    flops: number,
    durationMs: number,
    network: string | undefined,
    model?: string,
  ): void {
    const { identity, jobId } = this.deps;
    if (!identity || !network) return;
    this.chain = this.chain
      .then(async () => {
        const terms = { network, provider, jobId, unitId, flops, durationMs, model };
        const receipt = await issueReceipt(identity, terms);
        this.deps.sendTo(provider, { type: 'receipt', receipt });
        this.deps.issued();
        this.deps.outbox.push(receipt);
      })
      .catch((error: unknown) => this.deps.failed(`could not issue a receipt: ${messageOf(error)}`));
  }

  /** Resolves once every receipt issued so far has been sent. */
  settled(): Promise<void> {
    return this.chain;
  }
}
