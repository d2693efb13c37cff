import { describe, expect, it } from 'vitest';
import type { ClientMessage } from '@shared/protocol';
import { createIdentity } from '@shared/identity';
import { issueReceipt, type Receipt } from '@shared/trust';
import { Emitter } from '../core/emitter';
import type { SignalingEvents, SignalingPort } from '../core/ports';
import { ReceiptOutbox } from './receipt-outbox';

function fakeSignaling() {
  const events = new Emitter<SignalingEvents & { 'receipts-ack': never }>();
  const sent: ClientMessage[] = [];
  const port: SignalingPort = { send: (m) => void sent.push(m), on: (e, h) => events.on(e, h) };
  const ack = (accepted: number, rejected: { id: string; reason: string }[] = []) =>
    events.emit(
      'receipts-ack' as never,
      {
        type: 'receipts-ack',
        accepted,
        rejected: rejected.map((r) => ({ ...r, message: r.reason })),
        head: { length: 0, hash: '' },
      } as never,
    );
  const reconnect = () =>
    events.emit('welcome', { type: 'welcome', peerId: 'x'.repeat(43), iceServers: [], heartbeatMs: 1000 });
  return { port, sent, ack, reconnect };
}

async function receipts(jobId: string, n: number): Promise<Receipt[]> {
  const requester = await createIdentity();
  const provider = await createIdentity();
  return Promise.all(
    Array.from({ length: n }, (_, unitId) =>
      issueReceipt(requester, {
        network: 'test-network',
        provider: provider.peerId,
        jobId,
        unitId,
        flops: 1,
        durationMs: 1,
      }),
    ),
  );
}

const batches = (sent: ClientMessage[]) =>
  sent
    .filter((m) => m.type === 'receipts')
    .map((m) => (m as Extract<ClientMessage, { type: 'receipts' }>).receipts.length);

describe('ReceiptOutbox', () => {
  it('RCPT1: one batch in flight at a time; each ack is credited to the jobs whose receipts it carried', async () => {
    const s = fakeSignaling();
    const outbox = new ReceiptOutbox(s.port);
    const logged: Record<string, number> = { 'job-aaaaaaaa': 0, 'job-bbbbbbbb': 0 };
    outbox.onLogged('job-aaaaaaaa', (n) => (logged['job-aaaaaaaa']! += n));
    outbox.onLogged('job-bbbbbbbb', (n) => (logged['job-bbbbbbbb']! += n));
    const [a, b] = [await receipts('job-aaaaaaaa', 3), await receipts('job-bbbbbbbb', 2)];
    a.forEach((r) => outbox.push(r));
    b.forEach((r) => outbox.push(r));
    expect(batches(s.sent)).toEqual([1]); // the first receipt went alone; the rest wait for its ack
    s.ack(1);
    expect(batches(s.sent)).toEqual([1, 4]);
    s.ack(4);
    expect(logged).toEqual({ 'job-aaaaaaaa': 3, 'job-bbbbbbbb': 2 });
  });

  it('RCPT2: after a reconnect the unacknowledged batch is sent again; replays count as logged, refusals do not', async () => {
    const s = fakeSignaling();
    const outbox = new ReceiptOutbox(s.port);
    let logged = 0;
    outbox.onLogged('job-aaaaaaaa', (n) => (logged += n));
    const rs = await receipts('job-aaaaaaaa', 3);
    rs.forEach((r) => outbox.push(r));
    s.reconnect();
    // The lost batch goes again, with everything queued behind it.
    expect(batches(s.sent)).toEqual([1, 3]);
    s.ack(1, [
      { id: rs[0]!.id, reason: 'replay' },
      { id: rs[2]!.id, reason: 'bad-signature' },
    ]);
    expect(logged).toBe(2);
  });

  it('RCPT3: batches never exceed the protocol limit', async () => {
    const s = fakeSignaling();
    const outbox = new ReceiptOutbox(s.port);
    const rs = await receipts('job-aaaaaaaa', 130);
    s.sent.length = 0;
    rs.forEach((r) => outbox.push(r));
    s.ack(1);
    s.ack(64);
    s.ack(64);
    expect(batches(s.sent)).toEqual([1, 64, 64, 1]);
  });
});
