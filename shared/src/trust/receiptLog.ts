/**
 * Append-only, hash-chained log of receipts (the server's record of credit).
 * entryHash = SHA-256(DOMAIN.receiptLog | seq | prevHash | receipt id | receipt
 * bytes | signature); entry 0's prevHash is GENESIS_HASH. Editing, reordering or
 * removing an entry breaks every later link; cutting the tail is caught by
 * checking against a head (seq, hash) published earlier.
 * Storage is a small interface: in memory here, a file or KV on the server.
 */
import { sha256Hex } from '../bytes';
import { DOMAIN } from './constants';
import { encodeCanonical } from './encoding';
import { ChainError, ReceiptError } from './errors';
import { receiptBytes, receiptUnitKey, verifyReceipt, type Receipt } from './receipts';
import { messageOf } from '../errors';

export const GENESIS_HASH = '0'.repeat(64);

export interface LogEntry {
  seq: number;
  prevHash: string;
  hash: string;
  receipt: Receipt;
}

export interface LogHead {
  seq: number;
  hash: string;
}

/** What a receipt log needs from storage. Appends are serialised by ReceiptLog. */
export interface ReceiptLogStorage {
  append(entry: LogEntry): Promise<void>;
  length(): Promise<number>;
  last(): Promise<LogEntry | undefined>;
  /** Entries [from, to) in order. */
  read(from: number, to: number): Promise<LogEntry[]>;
  /** Whether a receipt id or (requester, provider, job, unit) key is present: the replay index. */
  hasReceipt(id: string, unitKey: string): Promise<boolean>;
}

export class MemoryReceiptLogStorage implements ReceiptLogStorage {
  private readonly entries: LogEntry[] = [];
  private readonly ids = new Set<string>();
  private readonly unitKeys = new Set<string>();

  async append(entry: LogEntry): Promise<void> {
    this.entries.push(entry);
    this.ids.add(entry.receipt.id);
    this.unitKeys.add(receiptUnitKey(entry.receipt));
  }
  async length(): Promise<number> {
    return this.entries.length;
  }
  async last(): Promise<LogEntry | undefined> {
    return this.entries.at(-1);
  }
  async read(from: number, to: number): Promise<LogEntry[]> {
    return this.entries.slice(Math.max(0, from), Math.max(0, to));
  }
  async hasReceipt(id: string, unitKey: string): Promise<boolean> {
    return this.ids.has(id) || this.unitKeys.has(unitKey);
  }
}

/** Commits to the receipt's full signed bytes, so an edited field breaks the chain even without checking signatures. */
export function entryHash(seq: number, prevHash: string, receipt: Receipt): Promise<string> {
  return sha256Hex(
    encodeCanonical(DOMAIN.receiptLog, [seq, prevHash, receipt.id, receiptBytes(receipt), receipt.signature]),
  );
}

export class ReceiptLog {
  private readonly storage: ReceiptLogStorage;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(storage: ReceiptLogStorage = new MemoryReceiptLogStorage()) {
    this.storage = storage;
  }

  /**
   * Verifies the receipt and appends it. Throws ReceiptError for a bad or
   * replayed receipt. Appends are queued so concurrent callers cannot fork the chain.
   */
  append(value: unknown): Promise<LogEntry> {
    const run = this.tail.then(async () => {
      const receipt = await verifyReceipt(value);
      if (await this.storage.hasReceipt(receipt.id, receiptUnitKey(receipt)))
        throw new ReceiptError('replay', `receipt ${receipt.id} already logged`);
      const last = await this.storage.last();
      const seq = last ? last.seq + 1 : 0;
      const prevHash = last ? last.hash : GENESIS_HASH;
      const entry: LogEntry = { seq, prevHash, hash: await entryHash(seq, prevHash, receipt), receipt };
      await this.storage.append(entry);
      return entry;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async head(): Promise<LogHead> {
    const last = await this.storage.last();
    return last ? { seq: last.seq, hash: last.hash } : { seq: -1, hash: GENESIS_HASH };
  }

  async entries(from = 0, to?: number): Promise<LogEntry[]> {
    return this.storage.read(from, to ?? (await this.storage.length()));
  }
}

export interface VerifyChainOptions {
  /** A head published earlier: the chain must still contain it (catches truncation of the tail). */
  expectedHead?: LogHead;
  /** Verify each receipt's requester signature too (slower; default true). */
  checkSignatures?: boolean;
}

/**
 * Checks a whole log from genesis: sequence numbers, links, entry hashes, no
 * duplicate receipts, and (by default) every receipt's signature. Throws
 * ChainError at the first bad entry; returns the head.
 */
export async function verifyChain(entries: readonly LogEntry[], options: VerifyChainOptions = {}): Promise<LogHead> {
  let prevHash = GENESIS_HASH;
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i) throw new ChainError(i, `sequence ${e.seq}, expected ${i}`);
    if (e.prevHash !== prevHash) throw new ChainError(i, 'does not link to the previous entry');
    if ((await entryHash(e.seq, e.prevHash, e.receipt)) !== e.hash)
      throw new ChainError(i, 'entry hash does not match its contents');
    if (options.checkSignatures !== false) {
      try {
        await verifyReceipt(e.receipt);
      } catch (err) {
        throw new ChainError(i, `receipt does not verify: ${messageOf(err)}`);
      }
    }
    const keys = [e.receipt.id, receiptUnitKey(e.receipt)];
    if (keys.some((k) => seen.has(k))) throw new ChainError(i, 'receipt appears twice');
    for (const k of keys) seen.add(k);
    prevHash = e.hash;
  }
  const head: LogHead = entries.length ? { seq: entries.length - 1, hash: prevHash } : { seq: -1, hash: GENESIS_HASH };
  const expected = options.expectedHead;
  if (expected && expected.seq >= 0) {
    const at = entries[expected.seq];
    if (!at || at.hash !== expected.hash)
      throw new ChainError(
        Math.min(expected.seq, entries.length),
        'published head is missing: log truncated or rewritten',
      );
  }
  return head;
}
