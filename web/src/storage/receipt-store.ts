/**
 * The provider's credit: receipts requesters signed for its accepted units,
 * kept in IndexedDB under `receipt:<id>`. Every receipt is verified on arrival
 * and again on read (storage is untrusted); one that no longer verifies, names
 * another provider, or replays a unit is skipped, not counted.
 */
import type { PeerId } from '@shared/identity';
import { ReceiptStore, verifyReceipt, type Receipt } from '@shared/trust';
import type { KeyValueStore } from './kv';

const PREFIX = 'receipt:';

export interface CreditSummary {
  receipts: number;
  flops: number;
}

export class ProviderReceipts {
  private readonly store = new ReceiptStore();
  private loaded?: Promise<number>;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly provider: PeerId,
  ) {}

  /** Reads and re-verifies stored receipts; returns how many were skipped as invalid. */
  load(): Promise<number> {
    this.loaded ??= (async () => {
      let skipped = 0;
      for (const key of await this.kv.keys(PREFIX)) {
        try {
          this.store.admit(await verifyReceipt(await this.kv.get(key), { provider: this.provider }));
        } catch {
          skipped++;
        }
      }
      return skipped;
    })();
    return this.loaded;
  }

  /** Verifies (signature, recipient, replay) and persists; throws ReceiptError when refused. */
  async add(value: unknown): Promise<Receipt> {
    await this.load();
    const receipt = await this.store.add(value, { provider: this.provider });
    await this.kv.set(PREFIX + receipt.id, receipt);
    return receipt;
  }

  all(): Receipt[] {
    return this.store.all();
  }

  summary(): CreditSummary {
    const all = this.store.all();
    return { receipts: all.length, flops: all.reduce((sum, r) => sum + r.flops, 0) };
  }

  /** What the export button downloads: every receipt, verifiable offline with the requesters' public keys. */
  exportJson(): string {
    return JSON.stringify({ provider: this.provider, receipts: this.store.all() }, null, 2);
  }
}
