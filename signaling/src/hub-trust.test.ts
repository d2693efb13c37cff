import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RECEIPTS_PER_BATCH } from '@shared/protocol';
import { createIdentity } from '@shared/identity';
import { GENESIS_HASH } from '@shared/trust';
import { REPORT_FULL_WEIGHT_UNITS } from './constants';
import { TrustLedger } from './ledger';
import { caps, needs } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';
import { nonCanonical, pairWith, peerIds, receiptFor, signBody } from './testing/receipts';

let h: Harness;
afterEach(() => h?.stop());

async function requester() {
  return h.join('requester');
}

describe('receipts over the hub', () => {
  it('CREDIT1/CREDIT4: honest receipts are logged and acknowledged with the new head', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const receipts = [await receiptFor(identity, p!), await receiptFor(identity, p!)];
    socket.deliver({ type: 'receipts', receipts });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(2);
    expect(ack.rejected).toEqual([]);
    expect(ack.head.length).toBe(2);
    expect(ack.head.hash).not.toBe(GENESIS_HASH);
    expect(h.hub.ledger.head).toEqual(ack.head);
    expect(h.metrics.get('signaling_receipts_accepted_total')).toBe(2);
  });

  it('CREDIT2: forged receipts are refused: an edited field breaks the id, a swapped signature does not verify', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const inflated = { ...(await receiptFor(identity, p!)), flops: 1e15 };
    const a = await receiptFor(identity, p!);
    const b = await receiptFor(identity, p!);
    const resigned = { ...a, signature: b.signature };
    socket.deliver({ type: 'receipts', receipts: [inflated, resigned] });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(0);
    expect(ack.rejected).toEqual([
      { id: inflated.id, reason: 'invalid-receipt', message: expect.stringContaining('id') },
      { id: a.id, reason: 'bad-signature', message: expect.any(String) },
    ]);
    expect(h.hub.ledger.head.length).toBe(0);
    expect(h.metrics.get('signaling_receipts_rejected_total', { reason: 'bad-signature' })).toBe(1);
  });

  it('CREDIT2: a receipt signed by another requester key than the connection is refused, even if valid', async () => {
    h = createHarness();
    const { socket } = await requester();
    const other = await createIdentity();
    const [p] = await peerIds(1);
    const theirs = await receiptFor(other, p!);
    socket.deliver({ type: 'receipts', receipts: [theirs] });
    const ack = await socket.take('receipts-ack');
    expect(ack.rejected).toEqual([{ id: theirs.id, reason: 'wrong-requester', message: expect.any(String) }]);
    expect(h.hub.ledger.head.length).toBe(0);
  });

  it('CREDIT3: replays are refused: the same receipt again, within a batch, and a second receipt for the same unit', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const r = await receiptFor(identity, p!, { unitId: 7 });
    socket.deliver({ type: 'receipts', receipts: [r, r] });
    const first = await socket.take('receipts-ack');
    expect(first.accepted).toBe(1);
    expect(first.rejected).toEqual([{ id: r.id, reason: 'replay', message: expect.any(String) }]);
    const sameUnit = await receiptFor(identity, p!, { unitId: 7 });
    expect(sameUnit.id).not.toBe(r.id);
    socket.deliver({ type: 'receipts', receipts: [r, sameUnit] });
    const second = await socket.take('receipts-ack');
    expect(second.accepted).toBe(0);
    expect(second.rejected.map((x) => x.reason)).toEqual(['replay', 'replay']);
    expect(h.hub.ledger.head.length).toBe(1);
  });

  it('CREDIT3: a replay from a fresh connection of the same requester is still refused', async () => {
    h = createHarness();
    const first = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, first.identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const r = await receiptFor(first.identity, p!);
    first.socket.deliver({ type: 'receipts', receipts: [r] });
    await first.socket.take('receipts-ack');
    const again = await h.join('requester', first.identity);
    again.socket.deliver({ type: 'receipts', receipts: [r] });
    expect((await again.socket.take('receipts-ack')).rejected[0]?.reason).toBe('replay');
  });

  it('CREDIT5: receipts for other providers are credited to those providers, not to the submitter', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p1, p2] = await peerIds(2);
    pairWith(h.hub.ledger, identity.peerId, [p1!, p2!]); // as if the matchmaker had paired them (CREDIT10)
    socket.deliver({
      type: 'receipts',
      receipts: [
        await receiptFor(identity, p1!, { flops: 5 }),
        await receiptFor(identity, p2!, { flops: 7 }),
        await receiptFor(identity, p1!, { flops: 1 }),
      ],
    });
    expect((await socket.take('receipts-ack')).accepted).toBe(3);
    const board = h.hub.ledger.leaderboard(10, 1);
    expect(board.rows.map((r) => [r.provider, r.flops, r.units, r.requesters])).toEqual([
      [p2, 7, 1, 1],
      [p1, 6, 2, 1],
    ]);
    expect(board.rows.some((r) => r.provider === identity.peerId)).toBe(false);
  });

  it('CREDIT2: a provider key spelled non-canonically, or the requester crediting itself, is refused as bad-provider', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const alias = await signBody(identity, { provider: nonCanonical(p!) });
    const self = await signBody(identity, { provider: identity.peerId });
    socket.deliver({ type: 'receipts', receipts: [alias, self] });
    const ack = await socket.take('receipts-ack');
    expect(ack.rejected.map((r) => r.reason)).toEqual(['bad-provider', 'bad-provider']);
  });

  it('CREDIT2: a receipt issued more than 10 minutes ahead of the server clock is refused', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const ahead = await receiptFor(identity, p!, { issuedAt: h.clock.now + 11 * 60_000 });
    const slightlyAhead = await receiptFor(identity, p!, { issuedAt: h.clock.now + 60_000 });
    socket.deliver({ type: 'receipts', receipts: [ahead, slightlyAhead] });
    const ack = await socket.take('receipts-ack');
    expect(ack.accepted).toBe(1);
    expect(ack.rejected).toEqual([{ id: ahead.id, reason: 'invalid-receipt', message: 'issued in the future' }]);
  });

  it('CREDIT1: malformed receipts and empty or oversized batches fail the frame as invalid; nothing is logged', async () => {
    h = createHarness();
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const good = await receiptFor(identity, p!);
    const { signature: _dropped, ...unsigned } = good;
    socket.deliver({ type: 'receipts', receipts: [unsigned] });
    expect((await socket.take('error')).message).toMatch(/receipts: receipts\.0\.signature/);
    socket.deliver({ type: 'receipts', receipts: [{ ...good, __proto__: 1, extra: true }] });
    expect((await socket.take('error')).code).toBe('invalid');
    socket.deliver({ type: 'receipts', receipts: [] });
    expect((await socket.take('error')).code).toBe('invalid');
    const many = await Promise.all(Array.from({ length: MAX_RECEIPTS_PER_BATCH + 1 }, () => receiptFor(identity, p!)));
    socket.deliver({ type: 'receipts', receipts: many });
    expect((await socket.take('error')).code).toBe('invalid');
    socket.deliver({ type: 'receipts', receipts: many.slice(0, MAX_RECEIPTS_PER_BATCH) });
    expect((await socket.take('receipts-ack')).accepted).toBe(MAX_RECEIPTS_PER_BATCH);
    expect(h.hub.ledger.head.length).toBe(MAX_RECEIPTS_PER_BATCH);
  });

  it('ROLE1: providers cannot submit receipts or reports', async () => {
    h = createHarness();
    const { socket, identity } = await h.join('provider');
    const [p] = await peerIds(1);
    socket.deliver({ type: 'receipts', receipts: [await receiptFor(identity, p!)] });
    expect((await socket.take('error')).code).toBe('wrong-role');
    socket.deliver({ type: 'report', jobId: 'job-00001', peerId: p!, verdict: 'rejected', reason: 'x' });
    expect((await socket.take('error')).code).toBe('wrong-role');
    expect(h.hub.ledger.head.length).toBe(0);
  });

  it('CREDIT7: the receipt bucket refuses a whole batch over budget, then refills', async () => {
    h = createHarness({ limits: { receiptBurst: 4, receiptsPerSecond: 2 } });
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    const batch = await Promise.all(Array.from({ length: 3 }, () => receiptFor(identity, p!)));
    socket.deliver({ type: 'receipts', receipts: batch });
    expect((await socket.take('receipts-ack')).accepted).toBe(3);
    const next = await Promise.all(Array.from({ length: 3 }, () => receiptFor(identity, p!)));
    socket.deliver({ type: 'receipts', receipts: next });
    expect((await socket.take('error')).code).toBe('rate-limited');
    expect(h.hub.ledger.head.length).toBe(3);
    expect(h.metrics.get('signaling_rate_limited_total', { scope: 'receipts' })).toBe(1);
    h.clock.now += 1000;
    socket.deliver({ type: 'receipts', receipts: next });
    expect((await socket.take('receipts-ack')).accepted).toBe(3);
  });

  it('RATE3: receipts frames still count against the message bucket', async () => {
    h = createHarness({ limits: { messageBurst: 4, messagesPerSecond: 1, rateLimitStrikes: 100 } });
    const { socket, identity } = await requester(); // hello + auth used 2 of 4
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    for (let i = 0; i < 4; i++) socket.deliver({ type: 'receipts', receipts: [await receiptFor(identity, p!)] });
    await socket.take('error', (e) => e.code === 'rate-limited');
    expect(socket.all('error').filter((e) => e.code === 'rate-limited')).toHaveLength(2);
    await socket.take('receipts-ack');
    await socket.take('receipts-ack');
    expect(h.hub.ledger.head.length).toBe(2);
  });

  it('CREDIT7: a full log refuses with log-full', async () => {
    h = createHarness({ ledger: new TrustLedger({ maxEntries: 1, now: () => 1_000_000 }) });
    const { socket, identity } = await requester();
    const [p] = await peerIds(1);
    pairWith(h.hub.ledger, identity.peerId, [p!]); // as if the matchmaker had paired them (CREDIT10)
    socket.deliver({ type: 'receipts', receipts: [await receiptFor(identity, p!), await receiptFor(identity, p!)] });
    const ack = await socket.take('receipts-ack');
    expect([ack.accepted, ack.rejected.map((r) => r.reason)]).toEqual([1, ['log-full']]);
  });
});

/** The requester credits REPORT_FULL_WEIGHT_UNITS units to providers it worked with before, so its reports count in full (REP4). */
async function giveStanding(req: Awaited<ReturnType<Harness['join']>>): Promise<void> {
  const others = await peerIds(2);
  pairWith(h.hub.ledger, req.identity.peerId, others);
  const receipts = await Promise.all(
    Array.from({ length: REPORT_FULL_WEIGHT_UNITS }, (_, i) =>
      receiptFor(req.identity, others[i % 2]!, { issuedAt: h.clock.now }),
    ),
  );
  req.socket.deliver({ type: 'receipts', receipts });
  expect((await req.socket.take('receipts-ack')).accepted).toBe(REPORT_FULL_WEIGHT_UNITS);
}

describe('reports and matchmaking through the hub', () => {
  async function pairedOnTwoJobs() {
    const provider = await h.join('provider');
    const req = await requester();
    provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 2 });
    req.socket.deliver({ type: 'job-open', jobId: 'job-00001', needs: needs() });
    req.socket.deliver({ type: 'job-open', jobId: 'job-00002', needs: needs() });
    await req.socket.take('matched', (m) => m.jobId === 'job-00001');
    await req.socket.take('matched', (m) => m.jobId === 'job-00002');
    return { provider, req };
  }

  it('REP1: a report excludes the provider from that job only, like release', async () => {
    h = createHarness();
    const { provider, req } = await pairedOnTwoJobs();
    req.socket.deliver({
      type: 'report',
      jobId: 'job-00001',
      peerId: provider.identity.peerId,
      verdict: 'rejected',
      reason: 'wrong result on unit 3',
    });
    expect(await req.socket.take('unmatched')).toMatchObject({
      jobId: 'job-00001',
      peerId: provider.identity.peerId,
      reason: 'reported',
    });
    expect(await provider.socket.take('unmatched')).toMatchObject({ jobId: 'job-00001', reason: 'reported' });
    // Re-announcing does not bring it back to the job it was reported in; the other job keeps it.
    provider.socket.deliver({ type: 'announce', capabilities: caps(), slots: 2 });
    provider.socket.deliver({ type: 'ping', t: 1 });
    await provider.socket.take('pong');
    expect(req.socket.all('matched').map((m) => m.jobId)).toEqual(['job-00001', 'job-00002']);
    expect(req.socket.all('unmatched').map((m) => m.jobId)).toEqual(['job-00001']);
    expect(h.hub.ledger.summary(provider.identity.peerId)).toMatchObject({ rejected: 1, excluded: false });
  });

  it('REP1: reporting a provider that never served the job is not-paired and counts nothing', async () => {
    h = createHarness();
    const { req } = await pairedOnTwoJobs();
    const [stranger] = await peerIds(1);
    req.socket.deliver({ type: 'report', jobId: 'job-00001', peerId: stranger!, verdict: 'rejected', reason: 'spite' });
    expect((await req.socket.take('error')).code).toBe('not-paired');
    req.socket.deliver({ type: 'report', jobId: 'job-99999', peerId: stranger!, verdict: 'rejected', reason: 'spite' });
    expect((await req.socket.take('error')).code).toBe('not-paired');
    expect(h.hub.ledger.summary(stranger!).rejected).toBe(0);
    expect(h.metrics.get('signaling_reports_total', { counted: 'true' })).toBe(0);
  });

  it('REP1: a provider can still be reported after it was released from the job', async () => {
    h = createHarness();
    const { provider, req } = await pairedOnTwoJobs();
    req.socket.deliver({ type: 'release', jobId: 'job-00001', peerId: provider.identity.peerId });
    await req.socket.take('unmatched');
    req.socket.deliver({
      type: 'report',
      jobId: 'job-00001',
      peerId: provider.identity.peerId,
      verdict: 'rejected',
      reason: 'late verdict',
    });
    req.socket.deliver({ type: 'ping', t: 2 });
    await req.socket.take('pong');
    expect(req.socket.all('error')).toEqual([]);
    expect(h.hub.ledger.summary(provider.identity.peerId).rejected).toBe(1);
  });

  it('REP2: one requester counts once; a reported provider is chosen after clean ones for new jobs', async () => {
    h = createHarness();
    const { provider: bad, req } = await pairedOnTwoJobs();
    await giveStanding(req); // REP4: a report weighs by the work its reporter paid out elsewhere
    req.socket.deliver({
      type: 'report',
      jobId: 'job-00001',
      peerId: bad.identity.peerId,
      verdict: 'rejected',
      reason: 'a',
    });
    req.socket.deliver({
      type: 'report',
      jobId: 'job-00002',
      peerId: bad.identity.peerId,
      verdict: 'rejected',
      reason: 'b',
    });
    await req.socket.take('unmatched', (m) => m.jobId === 'job-00002');
    expect(h.hub.ledger.summary(bad.identity.peerId).rejected).toBe(1);
    expect(h.metrics.get('signaling_reports_total', { counted: 'false' })).toBe(1);
    req.socket.deliver({ type: 'job-close', jobId: 'job-00001' });
    req.socket.deliver({ type: 'job-close', jobId: 'job-00002' });
    // A slower clean provider arrives; a new requester's one-provider job gets it, not the faster reported one.
    const clean = await h.join('provider');
    clean.socket.deliver({ type: 'announce', capabilities: caps({ gflops: 1 }), slots: 2 });
    const other = await requester();
    other.socket.deliver({ type: 'job-open', jobId: 'job-00003', needs: needs({ maxProviders: 1 }) });
    expect((await other.socket.take('matched')).peerId).toBe(clean.identity.peerId);
    // Reports come before load: the more loaded clean provider is still picked first, and the
    // reported one is deprioritised, not excluded: it fills the second place.
    other.socket.deliver({ type: 'job-open', jobId: 'job-00004', needs: needs({ maxProviders: 2 }) });
    await other.socket.take('matched', (m) => m.jobId === 'job-00004');
    await other.socket.take('matched', (m) => m.jobId === 'job-00004');
    expect(
      other.socket
        .all('matched')
        .filter((m) => m.jobId === 'job-00004')
        .map((m) => m.peerId),
    ).toEqual([clean.identity.peerId, bad.identity.peerId]);
  });
});
