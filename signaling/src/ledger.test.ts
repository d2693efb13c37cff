import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { LeaderboardResponseSchema } from '@shared/protocol';
import { createIdentity, type Identity } from '@shared/identity';
import { ReputationSummarySchema } from '@shared/trust';
import { RECEIPT_CHECKPOINT_FILE, RECEIPT_LOG_FILE } from './constants';
import { TEST_NETWORK } from './testing/fixtures';
import { ReceiptLogFileError } from './errors';
import { TrustLedger } from './ledger';
import { pairWith, peerIds, receiptFor, signBody } from './testing/receipts';
import { base64urlEncode } from '@shared/bytes';
import { RECEIPT_VERSION, receiptBytes, type Receipt } from '@shared/trust';

let dir: string;
let requester: Identity;
let providers: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signaling-ledger-'));
  requester = await createIdentity();
  providers = await peerIds(3);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = () => join(dir, RECEIPT_LOG_FILE);
const now = () => 1_000_000;

/** A file-backed ledger holding `n` receipts, closed again (only the file remains). */
async function seed(n: number): Promise<TrustLedger> {
  const ledger = new TrustLedger({ dataDir: dir, now });
  await ledger.open();
  pairWith(ledger, requester.peerId, providers); // as if the matchmaker had paired them (CREDIT10)
  for (let i = 0; i < n; i++) {
    const result = await ledger.submit(requester.peerId, [
      await receiptFor(requester, providers[i % 3]!, { flops: 10 + i }),
    ]);
    expect(result.accepted).toBe(1);
  }
  return ledger;
}

async function reopen(): Promise<TrustLedger> {
  const ledger = new TrustLedger({ dataDir: dir, now });
  await ledger.open();
  return ledger;
}

async function openError(): Promise<ReceiptLogFileError> {
  const error = await reopen().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReceiptLogFileError);
  return error as ReceiptLogFileError;
}

function rewriteLines(edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(file(), 'utf8').trimEnd().split('\n');
  writeFileSync(file(), edit(lines).join('\n') + '\n');
}

describe('receipt log on disk', () => {
  it('CREDIT6: after a restart the chain re-verifies to the same head, with credit and replay index restored', async () => {
    const before = await seed(5);
    const replay = (await before.receiptsOf(providers[0]!, 0, 1)).entries[0]!.receipt;
    expect(readFileSync(file(), 'utf8').trimEnd().split('\n')).toHaveLength(5);
    const after = await reopen();
    expect(after.head).toEqual(before.head);
    expect(after.leaderboard(10, 1)).toEqual(before.leaderboard(10, 1));
    expect((await after.submit(requester.peerId, [replay])).rejected[0]?.reason).toBe('replay');
    // Appends continue the same chain, and a third start still verifies.
    expect((await after.submit(requester.peerId, [await receiptFor(requester, providers[0]!)])).accepted).toBe(1);
    expect((await reopen()).head).toEqual(after.head);
  });

  it('CREDIT6: an empty or missing file is an empty log', async () => {
    expect((await reopen()).head.length).toBe(0);
    writeFileSync(file(), '');
    expect((await reopen()).head.length).toBe(0);
  });

  it('CREDIT6: an edited receipt (more FLOPs) is found at its line', async () => {
    await seed(4);
    rewriteLines((lines) => lines.map((l, i) => (i === 2 ? l.replace('"flops":12', '"flops":12000000') : l)));
    const error = await openError();
    expect(error.line).toBe(3);
    expect(error.message).toContain(`${file()}, line 3`);
  });

  it('CREDIT6: an edit with the entry hash recomputed still breaks the next link', async () => {
    await seed(4);
    const { entryHash } = await import('@shared/trust');
    const lines = readFileSync(file(), 'utf8').trimEnd().split('\n');
    const entry = JSON.parse(lines[1]!) as { seq: number; prevHash: string; hash: string; receipt: { flops: number } };
    entry.receipt.flops = 1e12;
    entry.hash = await entryHash(entry.seq, entry.prevHash, entry.receipt as never);
    lines[1] = JSON.stringify(entry);
    writeFileSync(file(), lines.join('\n') + '\n');
    // The edited entry's own receipt no longer verifies (its id and signature cover flops).
    expect((await openError()).line).toBe(2);
  });

  it('CREDIT6: removed, reordered and duplicated lines are found', async () => {
    await seed(4);
    const original = readFileSync(file(), 'utf8');
    rewriteLines((lines) => lines.filter((_, i) => i !== 1));
    expect((await openError()).line).toBe(2);
    writeFileSync(file(), original);
    rewriteLines(([a, b, ...rest]) => [b!, a!, ...rest]);
    expect((await openError()).line).toBe(1);
    writeFileSync(file(), original);
    rewriteLines((lines) => [...lines, lines[3]!]);
    expect((await openError()).line).toBe(5);
  });

  it('CREDIT6: garbage, a foreign shape and a blank line are errors naming the line (a torn last line: CREDIT14)', async () => {
    await seed(2);
    const original = readFileSync(file(), 'utf8');
    rewriteLines((lines) => [lines[0]!, '{not json', lines[1]!]);
    expect((await openError()).message).toMatch(/line 2: not valid JSON/);
    writeFileSync(file(), original);
    rewriteLines((lines) => [lines[0]!, lines[1]!.replace('"seq":1', '"seq":1,"extra":true')]);
    expect((await openError()).message).toMatch(/line 2: not a log entry/);
    writeFileSync(file(), original);
    rewriteLines((lines) => [lines[0]!, '', lines[1]!]);
    expect((await openError()).message).toMatch(/line 2: blank line/);
    // A bad line that is complete (newline-terminated) is damage even at the end.
    writeFileSync(file(), original + '{"seq":2,"prev\n');
    expect((await openError()).message).toMatch(/line 3: not valid JSON/);
  });
});

describe('recovery without a person', () => {
  it('CREDIT14: a torn last line (never acknowledged) is dropped with a warning and cut off; appends continue', async () => {
    const before = await seed(2);
    await before.close();
    const original = readFileSync(file(), 'utf8');
    appendFileSync(file(), '{"seq":2,"prev');
    const warnings: string[] = [];
    const log = { warn: (event: string) => warnings.push(event), info() {}, error() {}, debug() {} } as never;
    const after = new TrustLedger({ dataDir: dir, now, log });
    await after.open();
    expect(warnings).toContain('receipt-log-torn-tail');
    expect(after.head).toEqual(before.head);
    expect(readFileSync(file(), 'utf8')).toBe(original);
    expect((await after.submit(requester.peerId, [await receiptFor(requester, providers[0]!)])).accepted).toBe(1);
    await after.close();
    expect((await reopen()).head.length).toBe(3);
  });

  it('CREDIT14: a whole last entry missing only its newline is kept and terminated', async () => {
    const before = await seed(2);
    await before.close();
    writeFileSync(file(), readFileSync(file(), 'utf8').trimEnd());
    const after = await reopen();
    expect(after.head).toEqual(before.head);
    expect(readFileSync(file(), 'utf8').endsWith('\n')).toBe(true);
  });

  it('CREDIT15: a deleted tail is noticed against the head published before the stop', async () => {
    const before = await seed(4);
    await before.close(); // writes the checkpoint: the head /log/head last showed
    rewriteLines((lines) => lines.slice(0, 2));
    const error = await openError();
    expect(error.message).toMatch(/ends after 2 entries but a head of 4 was published/);
  });

  it('CREDIT15: a rewritten log with a valid chain of its own does not match the published head', async () => {
    const before = await seed(3);
    await before.close();
    const checkpoint = readFileSync(join(dir, RECEIPT_CHECKPOINT_FILE), 'utf8');
    rmSync(file());
    rmSync(join(dir, RECEIPT_CHECKPOINT_FILE));
    await (await seed(3)).close(); // three other receipts, a valid chain
    writeFileSync(join(dir, RECEIPT_CHECKPOINT_FILE), checkpoint);
    expect((await openError()).message).toMatch(/published head is missing/);
  });

  it('CREDIT15: start-up re-verifies only the signatures after the checkpoint', async () => {
    const first = await seed(5);
    await first.close();
    const second = await reopen();
    expect(second.signaturesCheckedAtOpen).toBe(0);
    for (let i = 0; i < 3; i++)
      await second.submit(requester.peerId, [await receiptFor(requester, providers[i]!, { flops: 1 })]);
    // a crash: no close, so the checkpoint still says 5
    const third = await reopen();
    expect(third.signaturesCheckedAtOpen).toBe(3);
    expect(third.head.length).toBe(8);
  });

  it('CREDIT16: with fsync on, appends are flushed and the log reopens the same', async () => {
    const ledger = new TrustLedger({ dataDir: dir, now, fsync: true });
    await ledger.open();
    pairWith(ledger, requester.peerId, providers);
    expect((await ledger.submit(requester.peerId, [await receiptFor(requester, providers[0]!)])).accepted).toBe(1);
    await ledger.close();
    expect((await reopen()).head).toEqual(ledger.head);
  });
});

describe('leaderboard and pages', () => {
  it('CREDIT5/HTTP9: rows are ordered by FLOPs, then id; limit and minRequesters apply; the shape matches the protocol', async () => {
    const ledger = new TrustLedger({ now });
    const [a, b, c] = providers as [string, string, string];
    const other = await createIdentity();
    pairWith(ledger, requester.peerId, providers);
    pairWith(ledger, other.peerId, [c]);
    await ledger.submit(requester.peerId, [
      await receiptFor(requester, a, { flops: 100 }),
      await receiptFor(requester, b, { flops: 300 }),
      await receiptFor(requester, c, { flops: 50 }),
    ]);
    await ledger.submit(other.peerId, [await receiptFor(other, c, { flops: 60, issuedAt: 2_000 })]);
    const board = ledger.leaderboard(10, 1);
    expect(v.is(LeaderboardResponseSchema, board)).toBe(true);
    expect(board.providers).toBe(3);
    expect(board.rows.map((r) => [r.provider, r.flops, r.units, r.requesters])).toEqual([
      [b, 300, 1, 1],
      [c, 110, 2, 2],
      [a, 100, 1, 1],
    ]);
    expect(ledger.leaderboard(2, 1).rows.map((r) => r.provider)).toEqual([b, c]);
    expect(ledger.leaderboard(10, 2).rows.map((r) => r.provider)).toEqual([c]);
    // Equal credit: stable by provider id.
    const tie = new TrustLedger({ now });
    pairWith(tie, requester.peerId, providers);
    await tie.submit(requester.peerId, [
      await receiptFor(requester, a, { flops: 5 }),
      await receiptFor(requester, b, { flops: 5 }),
    ]);
    expect(tie.leaderboard(10, 1).rows.map((r) => r.provider)).toEqual([a, b].sort());
  });

  it("HTTP10: one provider's receipts come back in log order, paginated", async () => {
    const ledger = new TrustLedger({ now });
    const [a, b] = providers as [string, string];
    pairWith(ledger, requester.peerId, providers);
    for (let i = 0; i < 5; i++)
      await ledger.submit(requester.peerId, [
        await receiptFor(requester, a, { flops: i }),
        await receiptFor(requester, b),
      ]);
    const first = await ledger.receiptsOf(a, 0, 2);
    const rest = await ledger.receiptsOf(a, 2, 10);
    expect(first.total).toBe(5);
    expect([...first.entries, ...rest.entries].map((e) => e.receipt.flops)).toEqual([0, 1, 2, 3, 4]);
    expect([...first.entries, ...rest.entries].every((e) => e.receipt.provider === a)).toBe(true);
    expect(rest.entries.map((e) => e.seq)).toEqual([4, 6, 8]);
    expect(await ledger.receiptsOf(providers[2]!, 0, 10)).toEqual({ total: 0, entries: [] });
  });

  it("REP3: the summary is the trust core's ReputationSummary: logged units, distinct reporters, never excluded", async () => {
    const ledger = new TrustLedger({ now });
    const [a] = providers as [string];
    pairWith(ledger, requester.peerId, providers);
    await ledger.submit(requester.peerId, [await receiptFor(requester, a), await receiptFor(requester, a)]);
    expect(ledger.summary(a)).toMatchObject({ units: 2, rejected: 0, excluded: false });
    const clean = ledger.summary(a).score;
    expect(ledger.report(a, 'r1')).toBe(true);
    expect(ledger.report(a, 'r1')).toBe(false);
    ledger.report(a, 'r2');
    const summary = ledger.summary(a);
    expect(v.is(ReputationSummarySchema, summary)).toBe(true);
    expect(summary).toMatchObject({ units: 2, rejected: 2, excluded: false });
    expect(summary.score).toBeLessThan(clean);
  });
});

describe('strict keys in receipts', () => {
  it('CREDIT9: a small-order requester key with R = identity, S = 0 logs nothing; a small-order provider gets no credit', async () => {
    const ledger = new TrustLedger({ now });
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const smallOrder = base64urlEncode(identityPoint);
    pairWith(ledger, smallOrder, [providers[0]!]);
    pairWith(ledger, requester.peerId, [smallOrder]);
    const forged = new Uint8Array(64);
    forged.set(identityPoint);
    const body = {
      network: TEST_NETWORK,
      requester: smallOrder,
      provider: providers[0]!,
      jobId: 'job-00001',
      unitId: 1,
      flops: 2 ** 53 - 1,
      durationMs: 1,
      issuedAt: 1_000_000,
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    };
    const id = base64urlEncode(
      new Uint8Array(await crypto.subtle.digest('SHA-256', receiptBytes(body) as BufferSource)),
    );
    const receipt: Receipt = { v: RECEIPT_VERSION, id, ...body, signature: base64urlEncode(forged) };
    const result = await ledger.submit(smallOrder, [receipt]);
    expect(result.rejected.map((r) => r.reason)).toEqual(['bad-signature']);
    expect(ledger.head.length).toBe(0);

    const toSmallOrder = await signBody(requester, { provider: smallOrder });
    expect((await ledger.submit(requester.peerId, [toSmallOrder])).rejected.map((r) => r.reason)).toEqual([
      'bad-provider',
    ]);
  });
});
