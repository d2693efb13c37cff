import { beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, type Identity } from '../identity';
import { ChainError, ReceiptError } from './errors';
import { Leaderboard } from './leaderboard';
import { issueReceipt, type Receipt } from './receipts';
import {
  entryHash,
  GENESIS_HASH,
  MemoryReceiptLogStorage,
  ReceiptLog,
  verifyChain,
  type LogEntry,
  type ReceiptLogStorage,
} from './receiptLog';

let requester: Identity;
let provider: Identity;
let receipts: Receipt[];
beforeAll(async () => {
  [requester, provider] = await Promise.all([createIdentity(), createIdentity()]);
  receipts = await Promise.all(
    Array.from({ length: 6 }, (_, unitId) =>
      issueReceipt(requester, {
        network: 'test-network',
        provider: provider.peerId,
        jobId: 'job-00001',
        unitId,
        flops: 1000 * (unitId + 1),
        durationMs: 10,
      }),
    ),
  );
});

async function filledLog(storage: ReceiptLogStorage = new MemoryReceiptLogStorage()): Promise<LogEntry[]> {
  const log = new ReceiptLog(storage);
  for (const r of receipts) await log.append(r);
  return log.entries();
}

/** Runs against every ReceiptLogStorage implementation (only the in-memory one lives here; the server's joins the list). */
function storageContract(name: string, make: () => ReceiptLogStorage): void {
  describe(`ReceiptLogStorage contract: ${name}`, () => {
    it('TRUST-L1: appends link from genesis and verify', async () => {
      const entries = await filledLog(make());
      expect(entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
      const head = await verifyChain(entries);
      expect(head).toEqual({ seq: 5, hash: entries[5]!.hash });
    });

    it('TRUST-L3: concurrent appends never fork the chain; a replay in the race is refused', async () => {
      const log = new ReceiptLog(make());
      const results = await Promise.allSettled([...receipts, receipts[0]!].map((r) => log.append(r)));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toBeInstanceOf(ReceiptError);
      expect(rejected.reason).toMatchObject({ code: 'replay' });
      await expect(verifyChain(await log.entries())).resolves.toMatchObject({ seq: 5 });
      expect(await log.head()).toEqual({ seq: 5, hash: (await log.entries()).at(-1)!.hash });
    });
  });
}
storageContract('memory', () => new MemoryReceiptLogStorage());

describe('receipt log', () => {
  it('TRUST-L1: the log refuses forged and replayed receipts', async () => {
    const log = new ReceiptLog();
    await log.append(receipts[0]);
    await expect(log.append(receipts[0])).rejects.toMatchObject({ code: 'replay' });
    await expect(log.append({ ...receipts[1]!, flops: 1 })).rejects.toBeInstanceOf(ReceiptError);
    expect((await log.head()).seq).toBe(0);
  });

  it('TRUST-L1: verifyChain detects an edited entry, even with its hash recomputed', async () => {
    const entries = await filledLog();
    const edited = entries.map((e) => ({ ...e }));
    edited[2] = { ...edited[2]!, receipt: { ...edited[2]!.receipt, flops: 999_999 } };
    await expect(verifyChain(edited, { checkSignatures: false })).rejects.toMatchObject({ index: 2 });
    edited[2] = { ...edited[2]!, hash: await entryHash(2, edited[2]!.prevHash, edited[2]!.receipt) };
    await expect(verifyChain(edited, { checkSignatures: false })).rejects.toMatchObject({ index: 3 }); // next link breaks
    await expect(verifyChain(edited)).rejects.toMatchObject({ index: 2 }); // and the signature does not verify
  });

  it('TRUST-L1: verifyChain detects reordering and removal from the middle', async () => {
    const entries = await filledLog();
    const swapped = [entries[0]!, entries[2]!, entries[1]!, ...entries.slice(3)];
    await expect(verifyChain(swapped)).rejects.toBeInstanceOf(ChainError);
    const renumbered = swapped.map((e, i) => ({ ...e, seq: i }));
    await expect(verifyChain(renumbered)).rejects.toMatchObject({ index: 1 });
    const cut = [...entries.slice(0, 2), ...entries.slice(3)];
    await expect(verifyChain(cut)).rejects.toMatchObject({ index: 2 });
    await expect(verifyChain(cut.map((e, i) => ({ ...e, seq: i })))).rejects.toMatchObject({ index: 2 });
    const duplicated = [
      ...entries,
      {
        ...entries[1]!,
        seq: 6,
        prevHash: entries[5]!.hash,
        hash: await entryHash(6, entries[5]!.hash, entries[1]!.receipt),
      },
    ];
    await expect(verifyChain(duplicated)).rejects.toMatchObject({ index: 6 });
  });

  it('TRUST-L1: truncating the tail is caught against a head published earlier', async () => {
    const entries = await filledLog();
    const published = await verifyChain(entries);
    await expect(verifyChain(entries.slice(0, 4))).resolves.toMatchObject({ seq: 3 }); // alone, a shorter log is self-consistent
    await expect(verifyChain(entries.slice(0, 4), { expectedHead: published })).rejects.toBeInstanceOf(ChainError);
    await expect(verifyChain(entries, { expectedHead: { seq: 3, hash: entries[3]!.hash } })).resolves.toEqual(
      published,
    );
  });

  it('TRUST-L2: the leaderboard built from the log credits each unit once', async () => {
    const board = new Leaderboard();
    for (const e of await filledLog()) board.add(e.receipt);
    expect(board.top()).toEqual([
      {
        provider: provider.peerId,
        flops: 21_000,
        units: 6,
        requesters: 1,
        lastCreditedAt: Math.max(...receipts.map((r) => r.issuedAt)),
      },
    ]);
  });
});
