/**
 * Reports weighed by the reporter's standing (issue 20, item 8): one throwaway
 * requester's report demoted an honest fast provider everywhere.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPORT_FULL_WEIGHT_UNITS } from './constants';
import { TrustLedger } from './ledger';
import { caps, needs } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';
import { pairWith, peerIds, receiptFor } from './testing/receipts';

let h: Harness;
const dirs: string[] = [];
afterEach(() => {
  h?.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fast and a slow provider; `reporter` opens a job, gets the fast one (MATCH2) and reports it. */
async function reportFastProvider(reporter: Awaited<ReturnType<Harness['join']>>) {
  const fast = await h.join('provider');
  const slow = await h.join('provider');
  fast.socket.deliver({ type: 'announce', capabilities: caps({ gflops: 500 }), slots: 4 });
  slow.socket.deliver({ type: 'announce', capabilities: caps({ gflops: 5 }), slots: 4 });
  reporter.socket.deliver({ type: 'job-open', jobId: 'job-spite', needs: needs({ maxProviders: 1 }) });
  expect((await reporter.socket.take('matched')).peerId).toBe(fast.identity.peerId);
  reporter.socket.deliver({
    type: 'report',
    jobId: 'job-spite',
    peerId: fast.identity.peerId,
    verdict: 'rejected',
    reason: 'spite',
  });
  await fast.socket.take('unmatched');
  return { fast, slow };
}

async function honestChoice(): Promise<string> {
  const honest = await h.join('requester');
  honest.socket.deliver({ type: 'job-open', jobId: 'job-honest', needs: needs({ maxProviders: 1 }) });
  return (await honest.socket.take('matched')).peerId;
}

describe('reports weighed by standing', () => {
  it('REP4: a throwaway requester’s report does not demote an honest fast provider', async () => {
    h = createHarness();
    const throwaway = await h.join('requester');
    const { fast } = await reportFastProvider(throwaway);
    expect(await honestChoice()).toBe(fast.identity.peerId);
    expect(h.hub.ledger.reportWeight(fast.identity.peerId)).toBe(0);
  });

  it('REP4: a requester that has paid out real work elsewhere is believed', async () => {
    h = createHarness();
    const reporter = await h.join('requester');
    const others = await peerIds(2);
    pairWith(h.hub.ledger, reporter.identity.peerId, others); // its earlier jobs with other providers
    const receipts = await Promise.all(
      Array.from({ length: REPORT_FULL_WEIGHT_UNITS }, (_, i) =>
        receiptFor(reporter.identity, others[i % 2]!, { issuedAt: h.clock.now }),
      ),
    );
    reporter.socket.deliver({ type: 'receipts', receipts });
    expect((await reporter.socket.take('receipts-ack')).accepted).toBe(REPORT_FULL_WEIGHT_UNITS);
    const { fast, slow } = await reportFastProvider(reporter);
    expect(h.hub.ledger.reportWeight(fast.identity.peerId)).toBe(1);
    expect(await honestChoice()).toBe(slow.identity.peerId);
  });

  it('REP4: credit the reporter paid to the reported provider itself does not count as standing', async () => {
    const ledger = new TrustLedger({ now: () => 1_000_000 });
    const reporter = await (await import('@shared/identity')).createIdentity();
    const [p] = await peerIds(1);
    pairWith(ledger, reporter.peerId, [p!]);
    const receipts = await Promise.all(
      Array.from({ length: REPORT_FULL_WEIGHT_UNITS }, () => receiptFor(reporter, p!, { issuedAt: 1_000_000 })),
    );
    expect((await ledger.submit(reporter.peerId, receipts)).accepted).toBe(REPORT_FULL_WEIGHT_UNITS);
    ledger.report(p!, reporter.peerId);
    expect(ledger.reportWeight(p!)).toBe(0);
  });

  it('REP5: reports are kept with the receipts (--data) and survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-reports-'));
    dirs.push(dir);
    const [p, r1, r2] = await peerIds(3);
    const before = new TrustLedger({ dataDir: dir, now: () => 1_000_000 });
    await before.open();
    expect(before.report(p!, r1!)).toBe(true);
    expect(before.report(p!, r2!)).toBe(true);
    await before.flushed();
    const after = new TrustLedger({ dataDir: dir, now: () => 1_000_000 });
    await after.open();
    expect(after.summary(p!).rejected).toBe(2);
    expect(after.report(p!, r1!)).toBe(false); // still counted once per requester
  });
});
