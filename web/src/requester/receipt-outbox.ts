/**
 * Receipts on their way to the server's hash-chained log, for every job of
 * this requester. One outbox per signaling connection: the server answers
 * batches in order, so only one batch is in flight and each `receipts-ack`
 * belongs to it. (One outbox per job would let two jobs both claim an ack.)
 */
import { MAX_RECEIPTS_PER_BATCH } from '@shared/protocol';
import type { Receipt } from '@shared/trust';
import { Emitter } from '../core/emitter';
import type { SignalingPort } from '../core/ports';

export class ReceiptOutbox {
  private readonly queue: Receipt[] = [];
  private inFlight: Receipt[] = [];
  private readonly events = new Emitter<{ logged: { jobId: string; count: number } }>();

  constructor(private readonly signaling: SignalingPort) {
    signaling.on('welcome', () => {
      // A batch sent before the reconnect may never have arrived: send it again (the log refuses duplicates).
      this.queue.unshift(...this.inFlight);
      this.inFlight = [];
      this.flush();
    });
    signaling.on('receipts-ack', (ack) => {
      if (this.inFlight.length === 0) return;
      // 'replay' means an earlier send of the same receipt was logged and its ack was lost.
      const refused = new Set(ack.rejected.filter((r) => r.reason !== 'replay').map((r) => r.id));
      const perJob = new Map<string, number>();
      for (const receipt of this.inFlight)
        if (!refused.has(receipt.id)) perJob.set(receipt.jobId, (perJob.get(receipt.jobId) ?? 0) + 1);
      this.inFlight = [];
      for (const [jobId, count] of perJob) this.events.emit('logged', { jobId, count });
      this.flush();
    });
  }

  push(receipt: Receipt): void {
    this.queue.push(receipt);
    this.flush();
  }

  /** Calls `handler` with how many of `jobId`'s receipts each ack logged. */
  onLogged(jobId: string, handler: (count: number) => void): () => void {
    return this.events.on('logged', (e) => e.jobId === jobId && handler(e.count));
  }

  private flush(): void {
    if (this.inFlight.length > 0 || this.queue.length === 0) return;
    this.inFlight = this.queue.splice(0, MAX_RECEIPTS_PER_BATCH);
    this.signaling.send({ type: 'receipts', receipts: this.inFlight });
  }
}
