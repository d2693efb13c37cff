/**
 * One contract for every SharedState and every receipt log storage: the
 * in-memory ones the single process uses, and the Redis ones (on a real
 * redis-server) that several instances share (SPEC SCALE1, SCALE6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '@shared/bytes';
import { createIdentity } from '@shared/identity';
import { MemoryReceiptLogStorage, ReceiptError, ReceiptLog, verifyChain, type ReceiptLogStorage } from '@shared/trust';
import { RedisSharedState } from '../../signaling/src/redis-state';
import { MemorySharedState, type SharedOp, type SharedState } from '../../signaling/src/shared-state';
import { caps, testLogger } from '../../signaling/src/testing/fixtures';
import { receiptFor } from '../../signaling/src/testing/receipts';
import { startRedis, type RedisProcess } from '../support/redis-server';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

interface Subject {
  state: SharedState;
  applied: SharedOp[];
  stop(): Promise<void>;
}

const kinds: Record<string, () => Promise<Subject>> = {
  memory: async () => {
    const applied: SharedOp[] = [];
    const state = new MemorySharedState(Date.now, () => randomId(16));
    await state.start({ apply: (op) => applied.push(op), deliver: () => undefined, instancesHolding: () => [] });
    return { state, applied, stop: () => state.close() };
  },
  redis: async () => {
    const applied: SharedOp[] = [];
    const state = new RedisSharedState({
      url: redis.url,
      prefix: `contract-${randomId(6)}:`,
      log: testLogger,
      now: Date.now,
    });
    await state.start({ apply: (op) => applied.push(op), deliver: () => undefined, instancesHolding: () => [] });
    return { state, applied, stop: () => state.close() };
  },
};

for (const [kind, make] of Object.entries(kinds)) {
  describe(`SharedState contract: ${kind}`, () => {
    it('SCALE1: ops are applied once each, in publish order, stamped, before publish settles', async () => {
      const { state, applied, stop } = await make();
      try {
        expect(state.health()).toMatchObject({ kind, up: true });
        const peer = (await createIdentity()).peerId;
        const before = Date.now();
        await state.publish({ op: 'join', role: 'provider', peer, conn: 1 });
        expect(applied).toHaveLength(1);
        await state.publish({ op: 'announce', peer, capabilities: caps(), slots: 2 });
        await state.publish({ op: 'status', peer, busy: 1, paused: false });
        expect(applied.map((op) => op.op)).toEqual(['join', 'announce', 'status']);
        for (const op of applied) {
          expect(op.instance).toBe(state.instance);
          expect(op.at).toBeGreaterThanOrEqual(before);
          expect(op.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
        }
        expect(new Set(applied.map((op) => op.nonce)).size).toBe(3);
        expect(state.health().applied).toBe(3);
      } finally {
        await stop();
      }
    });

    it('SCALE6: on a fresh state the proposed network id is the network', async () => {
      const { state, stop } = await make();
      try {
        expect(await state.settleNetwork('net-contract')).toBe('net-contract');
      } finally {
        await stop();
      }
    });
  });
}

const storages: Record<string, () => Promise<{ storage: ReceiptLogStorage; stop(): Promise<void> }>> = {
  memory: async () => ({ storage: new MemoryReceiptLogStorage(), stop: async () => undefined }),
  redis: async () => {
    const state = new RedisSharedState({
      url: redis.url,
      prefix: `contract-${randomId(6)}:`,
      log: testLogger,
      now: Date.now,
    });
    await state.start({ apply: () => undefined, deliver: () => undefined, instancesHolding: () => [] });
    return { storage: state.receiptStorage(), stop: () => state.close() };
  },
};

for (const [kind, make] of Object.entries(storages)) {
  describe(`receipt log storage contract: ${kind}`, () => {
    it('SCALE6: appends chain from genesis, read back in ranges, and refuse replays', async () => {
      const { storage, stop } = await make();
      try {
        const log = new ReceiptLog(storage);
        const requester = await createIdentity();
        const provider = (await createIdentity()).peerId;
        const receipts = await Promise.all([0, 1, 2].map((unitId) => receiptFor(requester, provider, { unitId })));
        for (const r of receipts) await log.append(r);
        expect(await storage.length()).toBe(3);
        expect((await storage.last())?.seq).toBe(2);
        const all = await storage.read(0, 3);
        expect(all.map((e) => e.receipt.id)).toEqual(receipts.map((r) => r.id));
        expect((await storage.read(1, 2)).map((e) => e.seq)).toEqual([1]);
        expect(await storage.read(2, 2)).toEqual([]);
        expect((await verifyChain(all)).seq).toBe(2);
        expect(await storage.hasReceipt(receipts[1]!.id, 'none')).toBe(true);
        await expect(log.append(receipts[0])).rejects.toBeInstanceOf(ReceiptError);
        expect(await storage.length()).toBe(3);
      } finally {
        await stop();
      }
    });
  });
}
