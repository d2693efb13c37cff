/**
 * Credit is bound to real pairings (issue 20, item 1): the abuse first — any key
 * logging 2^53−1 FLOPs for a provider it never worked with, 16 throwaway
 * requesters passing minRequesters=16 — then the rules that stop it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PAIRING_GRACE_MS, MAX_UNITS_PER_PAIRING, PAIRINGS_FILE } from './constants';
import { JsonlFileError } from './errors';
import { TrustLedger } from './ledger';
import { PairingBook } from './pairings';
import { caps, needs } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';
import { peerIds, receiptFor } from './testing/receipts';

let h: Harness;
const dirs: string[] = [];
afterEach(() => {
  h?.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function pairedThroughMatchmaker(backend: 'wasm' | 'webgpu' = 'wasm', units = 1_000) {
  const provider = await h.join('provider');
  const requester = await h.join('requester');
  provider.socket.deliver({ type: 'announce', capabilities: caps({ backend }), slots: 1 });
  requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs({ units }) });
  await requester.socket.take('matched');
  return { provider, requester };
}

describe('credit only for real pairings', () => {
  it('CREDIT10: a receipt crediting 2^53−1 FLOPs to a provider the server never paired is refused not-paired', async () => {
    h = createHarness();
    const { socket, identity } = await h.join('requester');
    const [stranger] = await peerIds(1);
    const huge = await receiptFor(identity, stranger!, { flops: 2 ** 53 - 1, unitId: 0 });
    socket.deliver({ type: 'receipts', receipts: [huge] });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(0);
    expect(ack.rejected).toEqual([{ id: huge.id, reason: 'not-paired', message: expect.any(String) }]);
    expect(h.hub.ledger.leaderboard(10, 1).rows).toEqual([]);
    expect(h.metrics.get('signaling_receipts_rejected_total', { reason: 'not-paired' })).toBe(1);
  });

  it('CREDIT10: 16 throwaway requester keys cannot lift a provider past minRequesters=16', async () => {
    h = createHarness();
    const [target] = await peerIds(1);
    for (let i = 0; i < 16; i++) {
      const { socket, identity } = await h.join('requester', undefined, `10.0.${i}.1`);
      socket.deliver({ type: 'receipts', receipts: [await receiptFor(identity, target!, { unitId: 0 })] });
      expect((await socket.take('receipts-ack')).rejected[0]?.reason).toBe('not-paired');
    }
    expect(h.hub.ledger.leaderboard(10, 16).rows).toEqual([]);
    expect(h.hub.ledger.leaderboard(10, 1).rows).toEqual([]);
  });

  it('CREDIT10: the matchmaker’s pairing is what admits a receipt: for that job and that provider only', async () => {
    h = createHarness();
    const { provider, requester } = await pairedThroughMatchmaker();
    h.clock.now += 10_000;
    const p = provider.identity.peerId;
    const ok = await receiptFor(requester.identity, p, { unitId: 0, issuedAt: h.clock.now });
    const otherJob = await receiptFor(requester.identity, p, { unitId: 1, jobId: 'job-00002', issuedAt: h.clock.now });
    const [someoneElse] = await peerIds(1);
    const otherProvider = await receiptFor(requester.identity, someoneElse!, { unitId: 2, issuedAt: h.clock.now });
    requester.socket.deliver({ type: 'receipts', receipts: [ok, otherJob, otherProvider] });
    const ack = await requester.socket.take('receipts-ack');
    expect(ack.accepted).toBe(1);
    expect(ack.rejected.map((r) => r.reason)).toEqual(['not-paired', 'not-paired']);
  });

  it('CREDIT10: after unmatched, receipts are still logged within the grace period, not after it', async () => {
    h = createHarness();
    const { provider, requester } = await pairedThroughMatchmaker();
    const p = provider.identity.peerId;
    h.clock.now += 60_000;
    requester.socket.deliver({ type: 'job-close', jobId: 'job-00001' });
    await provider.socket.take('unmatched');
    // The outbox re-sends after a reconnect an hour later: still inside the grace.
    h.clock.now += 3_600_000;
    const again = await h.join('requester', requester.identity);
    again.socket.deliver({
      type: 'receipts',
      receipts: [await receiptFor(requester.identity, p, { unitId: 0, issuedAt: h.clock.now })],
    });
    expect((await again.socket.take('receipts-ack')).accepted).toBe(1);
    h.clock.now += PAIRING_GRACE_MS;
    again.socket.deliver({
      type: 'receipts',
      receipts: [await receiptFor(requester.identity, p, { unitId: 1, issuedAt: h.clock.now })],
    });
    expect((await again.socket.take('receipts-ack')).rejected.map((r) => r.reason)).toEqual(['not-paired']);
  });

  it('CREDIT11: FLOPs are capped by the time paired × the announced backend’s ceiling', async () => {
    h = createHarness();
    const { provider, requester } = await pairedThroughMatchmaker('wasm');
    const p = provider.identity.peerId;
    h.clock.now += 10_000; // 10 s on wasm: at most 10 × 10e12 = 1e14 FLOPs
    const issuedAt = h.clock.now;
    const huge = await receiptFor(requester.identity, p, { unitId: 0, flops: 2 ** 53 - 1, issuedAt });
    const fits = await receiptFor(requester.identity, p, { unitId: 1, flops: 6e13, issuedAt });
    const tipsOver = await receiptFor(requester.identity, p, { unitId: 2, flops: 5e13, issuedAt });
    const rest = await receiptFor(requester.identity, p, { unitId: 3, flops: 4e13, issuedAt });
    requester.socket.deliver({ type: 'receipts', receipts: [huge, fits, tipsOver, rest] });
    const ack = await requester.socket.take('receipts-ack');
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r) => [r.id, r.reason])).toEqual([
      [huge.id, 'over-budget'],
      [tipsOver.id, 'over-budget'],
    ]);
    expect(h.hub.ledger.leaderboard(1, 1).rows[0]?.flops).toBe(1e14);
    // More time paired, more budget.
    h.clock.now += 10_000;
    requester.socket.deliver({ type: 'receipts', receipts: [tipsOver] });
    expect((await requester.socket.take('receipts-ack')).accepted).toBe(1);
  });

  it('CREDIT11: unit ids stay inside the job the requester announced', async () => {
    h = createHarness();
    const { provider, requester } = await pairedThroughMatchmaker('webgpu', 2);
    h.clock.now += 1_000;
    const p = provider.identity.peerId;
    const receipts = await Promise.all(
      [0, 1, 2, 2 ** 31].map((unitId) => receiptFor(requester.identity, p, { unitId, issuedAt: h.clock.now })),
    );
    requester.socket.deliver({ type: 'receipts', receipts });
    const ack = await requester.socket.take('receipts-ack');
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r) => r.reason)).toEqual(['invalid-receipt', 'invalid-receipt']);
  });

  it('CREDIT11: one pairing holds at most MAX_UNITS_PER_PAIRING units', async () => {
    const book = new PairingBook({ now: () => 0 });
    const [r, p] = await peerIds(2);
    book.start(r!, 'job-00001', p!, 'webgpu', 10_000_000, 0);
    const receipt = (unitId: number) =>
      ({ requester: r!, provider: p!, jobId: 'job-00001', unitId, flops: 1 }) as Parameters<PairingBook['credit']>[0];
    for (let i = 0; i < MAX_UNITS_PER_PAIRING; i++) book.credit(receipt(i));
    expect(book.check(receipt(MAX_UNITS_PER_PAIRING), 1_000_000)).toMatchObject({ ok: false, reason: 'over-budget' });
  });
});

describe('pairings persist with the receipts (--data)', () => {
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'signaling-pairings-'));
    dirs.push(d);
    return d;
  };

  it('CREDIT12: a pairing made before a restart still admits its receipts after it; its credit budget is restored', async () => {
    const dir = tmp();
    let now = 1_000_000;
    const before = new TrustLedger({ dataDir: dir, now: () => now });
    await before.open();
    h = createHarness({ ledger: before, now: () => now });
    const provider = await h.join('provider');
    const requester = await h.join('requester');
    provider.socket.deliver({ type: 'announce', capabilities: caps({ backend: 'wasm' }), slots: 1 });
    requester.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs({ units: 100 }) });
    await requester.socket.take('matched');
    now += 10_000;
    const p = provider.identity.peerId;
    requester.socket.deliver({
      type: 'receipts',
      receipts: [await receiptFor(requester.identity, p, { unitId: 0, flops: 9e13, issuedAt: now })],
    });
    expect((await requester.socket.take('receipts-ack')).accepted).toBe(1);
    requester.socket.deliver({ type: 'job-close', jobId: 'job-00001' });
    await provider.socket.take('unmatched');
    await before.pairings.flushed();
    h.stop();

    now += 60_000;
    const after = new TrustLedger({ dataDir: dir, now: () => now });
    await after.open();
    // 10 s on wasm: 1e14 in all, 9e13 already credited before the restart.
    const over = await receiptFor(requester.identity, p, { unitId: 1, flops: 2e13, issuedAt: now });
    const fits = await receiptFor(requester.identity, p, { unitId: 2, flops: 1e13, issuedAt: now });
    const result = await after.submit(requester.identity.peerId, [over, fits]);
    expect(result.accepted).toBe(1);
    expect(result.rejected.map((r) => [r.id, r.reason])).toEqual([[over.id, 'over-budget']]);
  });

  it('CREDIT12: a torn last line of the pairings file is dropped with a warning; a bad middle line stops start-up', async () => {
    const dir = tmp();
    const [r, p] = await peerIds(2);
    const book = new PairingBook({ now: () => 5_000, path: join(dir, PAIRINGS_FILE) });
    book.start(r!, 'job-00001', p!, 'wasm', 10, 1_000);
    await book.flushed();
    appendFileSync(join(dir, PAIRINGS_FILE), '{"op":"end","requ');
    const warnings: string[] = [];
    const log = { warn: (event: string) => warnings.push(event) } as never;
    const reopened = new PairingBook({ now: () => 5_000, path: join(dir, PAIRINGS_FILE), log });
    await reopened.open();
    expect(warnings).toEqual(['jsonl-torn-tail']);
    // Left open by the stop: ended at start-up, with the time until then counted.
    expect(reopened.get(r!, 'job-00001', p!)).toMatchObject({ openSince: null, endedAt: 5_000, pairedMs: 4_000 });
    expect(readFileSync(join(dir, PAIRINGS_FILE), 'utf8').endsWith('\n')).toBe(true);

    writeFileSync(join(dir, PAIRINGS_FILE), 'garbage\n' + readFileSync(join(dir, PAIRINGS_FILE), 'utf8'));
    const broken = new PairingBook({ now: () => 5_000, path: join(dir, PAIRINGS_FILE) });
    await expect(broken.open()).rejects.toBeInstanceOf(JsonlFileError);
  });

  it('CREDIT12: pairings past their grace are forgotten and compacted out of the file', async () => {
    const dir = tmp();
    const [r, p, q] = await peerIds(3);
    let now = 1_000;
    const book = new PairingBook({ now: () => now, path: join(dir, PAIRINGS_FILE) });
    book.start(r!, 'job-00001', p!, 'wasm', 10);
    book.start(r!, 'job-00001', q!, 'wasm', 10);
    now = 2_000;
    book.end(r!, 'job-00001', p!);
    await book.flushed();
    now = 2_000 + PAIRING_GRACE_MS + 1;
    const reopened = new PairingBook({ now: () => now, path: join(dir, PAIRINGS_FILE) });
    await reopened.open();
    expect(reopened.get(r!, 'job-00001', p!)).toBeUndefined();
    expect(reopened.get(r!, 'job-00001', q!)).toBeDefined(); // was open at the stop: its grace starts now
    expect(readFileSync(join(dir, PAIRINGS_FILE), 'utf8').trimEnd().split('\n')).toHaveLength(2);
  });
});
