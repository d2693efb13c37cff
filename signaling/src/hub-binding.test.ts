/**
 * Binding (issue 20, item 10): receipts name the network, signed results bind the
 * requester and the pairing session, the protocol version moved to 2, and logs
 * the previous release wrote (v1 receipts, no network) still load.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { base64urlEncode, randomId } from '@shared/bytes';
import { createIdentity, sign, type Identity } from '@shared/identity';
import { PROTOCOL_VERSION } from '@shared/protocol';
import { MemoryReceiptLogStorage, ReceiptLog } from '@shared/trust';
import { LEGACY_RECEIPT_VERSION, receiptBytes, type Receipt } from '@shared/trust';
import { RECEIPT_LOG_FILE } from './constants';
import { TrustLedger } from './ledger';
import { createHarness, type Harness } from './testing/hub-harness';
import { pairWith, peerIds, receiptFor } from './testing/receipts';

let h: Harness;
const dirs: string[] = [];
afterEach(() => {
  h?.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A receipt as the previous release issued it: v1, no network. */
async function legacyReceipt(requester: Identity, provider: string, unitId: number): Promise<Receipt> {
  const body = {
    requester: requester.peerId,
    provider,
    jobId: 'job-00001',
    unitId,
    flops: 1_000,
    durationMs: 10,
    issuedAt: 1_000_000,
    nonce: randomId(16),
  };
  const bytes = receiptBytes(body);
  const id = base64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource)));
  return { v: LEGACY_RECEIPT_VERSION, id, ...body, signature: await sign(requester, bytes) };
}

describe('binding to a network and a session', () => {
  it('BIND1: a receipt naming its model version is held to the network like any other, and logged', async () => {
    h = createHarness();
    const { socket, identity } = await h.join('requester');
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]);
    const model = 'ab'.repeat(16);
    const foreign = await receiptFor(identity, p!, { network: 'other-network', issuedAt: h.clock.now, model });
    const ours = await receiptFor(identity, p!, { issuedAt: h.clock.now, model });
    expect(ours.v).toBe(3);
    socket.deliver({ type: 'receipts', receipts: [foreign, ours] });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(1);
    expect(ack.rejected).toEqual([{ id: foreign.id, reason: 'wrong-network', message: expect.any(String) }]);
  });

  it('BIND1: a receipt issued for another network is refused wrong-network, even for a real pairing', async () => {
    h = createHarness();
    const { socket, identity } = await h.join('requester');
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]);
    const foreign = await receiptFor(identity, p!, { network: 'other-network', issuedAt: h.clock.now });
    const ours = await receiptFor(identity, p!, { issuedAt: h.clock.now });
    socket.deliver({ type: 'receipts', receipts: [foreign, ours] });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(1);
    expect(ack.rejected).toEqual([{ id: foreign.id, reason: 'wrong-network', message: expect.any(String) }]);
  });

  it('BIND1: the network id is kept with --data across restarts, and a server without one gets a random id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-network-'));
    dirs.push(dir);
    let made = 0;
    const newNetwork = () => `net-${++made}`;
    const first = new TrustLedger({ dataDir: dir, newNetwork });
    await first.open();
    const second = new TrustLedger({ dataDir: dir, newNetwork });
    await second.open();
    expect([first.network, second.network, made]).toEqual(['net-1', 'net-1', 1]);
    const named = new TrustLedger({ dataDir: dir, network: 'my-network', newNetwork });
    await named.open();
    expect(named.network).toBe('my-network');
    expect(new TrustLedger({ newNetwork }).network).toBe('net-2');
  });

  it('BIND3: a receipt log written by the previous release (v1 receipts) still loads and verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-legacy-log-'));
    dirs.push(dir);
    const requester = await createIdentity();
    const providers = await peerIds(2);
    const log = new ReceiptLog(new MemoryReceiptLogStorage());
    const lines: string[] = [];
    for (let i = 0; i < 4; i++)
      lines.push(JSON.stringify(await log.append(await legacyReceipt(requester, providers[i % 2]!, i))));
    writeFileSync(join(dir, RECEIPT_LOG_FILE), lines.join('\n') + '\n');
    const ledger = new TrustLedger({ dataDir: dir, now: () => 1_000_000 });
    await ledger.open();
    expect(ledger.head.length).toBe(4);
    expect(ledger.leaderboard(10, 1).rows.map((r) => r.units)).toEqual([2, 2]);
    // and new v2 receipts continue the same chain
    pairWith(ledger, requester.peerId, providers);
    expect(
      (await ledger.submit(requester.peerId, [await receiptFor(requester, providers[0]!, { unitId: 100 })])).accepted,
    ).toBe(1);
  });

  it('BIND3: a client of the previous protocol version gets the version error and close 4002', async () => {
    h = createHarness();
    const { socket } = await h.open();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION - 1, role: 'requester' });
    const error = await socket.take('error');
    expect(error).toMatchObject({ code: 'version', supported: [PROTOCOL_VERSION] });
    expect(await socket.closedWith()).toBe(4002);
  });
});
