/**
 * The server side of trust: the public, hash-chained receipt log (trust core
 * ReceiptLog over memory or a JSONL file), the leaderboard and per-provider
 * receipt index built from it, and the reports that lower a provider's priority
 * in matchmaking. Rules CREDIT* and REP* in SPEC.md. No sockets, no HTTP: the hub and
 * trust-http.ts call it.
 */
import { join } from 'node:path';
import type { LeaderboardResponse, LogHeadInfo, ReceiptRejectReason } from '@shared/protocol';
import { isStrictPublicKey } from '@shared/identity';
import { ReceiptError } from '@shared/trust';
import {
  GENESIS_HASH,
  MemoryReceiptLogStorage,
  ReceiptLog,
  type LogEntry,
  type ReceiptLogStorage,
} from '@shared/trust';
import { LEGACY_RECEIPT_VERSION, type Receipt } from '@shared/trust';
import { NETWORK_ID_PATTERN } from '@shared/trust';
import { readFile, writeFile } from 'node:fs/promises';
import { reputationScore, type ReputationSummary } from '@shared/trust';
import * as v from 'valibot';
import * as C from './constants';
import type { Logger } from './log';
import { JsonlAppender, readJsonl } from './jsonl';
import { PairingBook, type Pairing } from './pairings';
import { LogConflictError } from './errors';
import { SharedStateUnavailable } from './shared-state';
import { RankedBoard } from './ranked-board';
import { FileReceiptLogStorage } from './receipt-file';

export interface LedgerOptions {
  /** Persist the log as DIR/receipts.jsonl; in memory when absent. */
  dataDir?: string;
  maxEntries?: number;
  now?: () => number;
  log?: Logger;
  /** Flush each append to disk before acknowledging it (SPEC CREDIT16). */
  fsync?: boolean;
  /** This deployment's network id (SPEC BIND1); see DEFAULT_NETWORK and NETWORK_FILE. */
  network?: string;
  /** Makes a network id when none is given or kept (the server: a random one); else DEFAULT_NETWORK. */
  newNetwork?: () => string;
  /**
   * A log shared by several instances (Redis, SPEC SCALE6). Its appends come back
   * to every instance as `credit` ops, and only applyCredit() indexes them, so all
   * replicas index the same entries in the same order.
   */
  sharedStorage?: ReceiptLogStorage;
}

export interface ReceiptRejection {
  id: string;
  reason: ReceiptRejectReason;
  message: string;
}

export interface SubmitResult {
  accepted: number;
  rejected: ReceiptRejection[];
  head: LogHeadInfo;
}

/**
 * What a snapshot of the shared state keeps of the ledger (SPEC SCALE7): the
 * head it had indexed, the reports, the pairings and the display names. The
 * credit index is rebuilt from the receipt log itself, which is never compacted.
 */
export interface LedgerSnapshot {
  head: LogHeadInfo;
  /** Reporters of each provider, in the order they reported. */
  reporters: Array<[provider: string, reporters: string[]]>;
  pairings: Pairing[];
  /** Providers' display names, in the order set (absent in snapshots taken before names were shared). */
  names?: Array<[provider: string, name: string]>;
}

interface ProviderRecord {
  /** Sequence numbers of its log entries, ascending. */
  seqs: number[];
  /** Requester keys that reported it (SPEC REP1): one vote per requester. */
  reporters: Set<string>;
}

const ReportRecordSchema = v.strictObject({
  provider: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  reporter: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)),
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export class TrustLedger {
  private log: ReceiptLog | null = null;
  private storage: ReceiptLogStorage | null = null;
  private file: FileReceiptLogStorage | null = null;
  /** Kept ranked as receipts are logged, so a GET never sorts (SPEC HTTP13). */
  private readonly board = new RankedBoard(C.LEADERBOARD_MAX_LIMIT, C.LEADERBOARD_MAX_MIN_REQUESTERS);
  private readonly providers = new Map<string, ProviderRecord>();
  private creditedProviders = 0;
  private _head: LogHeadInfo = { length: 0, hash: GENESIS_HASH };
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Pairings the matchmaker made: what a receipt may credit (SPEC CREDIT10–CREDIT12). */
  readonly pairings: PairingBook;
  /** The network v2 receipts must name (SPEC BIND1); settled by open() with --data. */
  network: string;
  /** Units each requester has credited, in all and per provider: its standing as a reporter (SPEC REP4). */
  private readonly creditedBy = new Map<string, number>();
  private readonly creditedPair = new Map<string, number>();
  private readonly reportsFile: JsonlAppender;
  /** Providers' signed display names (SPEC NAME3), in the order set: memory only, resent by providers on welcome. */
  private readonly names = new Map<string, string>();
  /** Appends of this instance waiting for their `credit` op to come back (shared log only). */
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly options: LedgerOptions = {}) {
    this.maxEntries = options.maxEntries ?? C.MAX_LOG_ENTRIES;
    this.now = options.now ?? Date.now;
    this.pairings = new PairingBook({
      now: this.now,
      ...(options.dataDir ? { path: join(options.dataDir, C.PAIRINGS_FILE) } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    this.network =
      options.network ?? (options.dataDir ? C.DEFAULT_NETWORK : (options.newNetwork?.() ?? C.DEFAULT_NETWORK));
    this.reportsFile = new JsonlAppender(options.dataDir ? join(options.dataDir, C.REPORTS_FILE) : undefined);
    if (options.sharedStorage) this.attach(options.sharedStorage);
    else if (!options.dataDir) this.attach(new MemoryReceiptLogStorage());
  }

  /** Where the log is kept, for logs and errors; null in memory. */
  get path(): string | null {
    return this.options.dataDir ? join(this.options.dataDir, C.RECEIPT_LOG_FILE) : null;
  }

  /** Loads and re-verifies the file log (SPEC CREDIT6). A no-op in memory. Call once before serving. */
  async open(): Promise<void> {
    const path = this.path;
    if (!path || this.log) return;
    this.network = await settleNetwork(
      join(this.options.dataDir!, C.NETWORK_FILE),
      this.options.network,
      this.options.newNetwork ?? (() => C.DEFAULT_NETWORK),
    );
    await this.pairings.open();
    const reports = await readJsonl(join(this.options.dataDir!, C.REPORTS_FILE), ReportRecordSchema, this.options.log);
    for (const r of reports) this.record(r.provider).reporters.add(r.reporter);
    const storage = await FileReceiptLogStorage.open(path, {
      ...(this.options.fsync ? { fsync: true } : {}),
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    this.file = storage;
    for (const entry of await storage.read(0, await storage.length())) this.index(entry);
    this.attach(storage);
  }

  /** Signatures re-verified at open (those after the checkpoint); 0 in memory (SPEC CREDIT15). */
  get signaturesCheckedAtOpen(): number {
    return this.file?.signaturesChecked ?? 0;
  }

  /** Writes the final checkpoint, waits for pending writes and closes the files. */
  async close(): Promise<void> {
    await this.flushed();
    await this.file?.close();
    this.file = null;
  }

  get head(): LogHeadInfo {
    return this._head;
  }

  /**
   * Verifies and logs a requester's batch, in order (SPEC CREDIT1–CREDIT5). Every
   * receipt is answered: accepted, or rejected with a reason. Throws only on
   * storage failure.
   */
  async submit(requester: string, receipts: readonly Receipt[]): Promise<SubmitResult> {
    const log = this.ready();
    let accepted = 0;
    const rejected: ReceiptRejection[] = [];
    const refuse = (r: Receipt, reason: ReceiptRejectReason, message: string) =>
      rejected.push({ id: r.id, reason, message: message.slice(0, 256) });
    for (const receipt of receipts) {
      if (receipt.requester !== requester) {
        refuse(receipt, 'wrong-requester', 'signed by another requester key than this connection’s');
        continue;
      }
      if (!isStrictPublicKey(receipt.provider) || receipt.provider === requester) {
        refuse(
          receipt,
          'bad-provider',
          receipt.provider === requester
            ? 'a requester cannot credit its own key'
            : 'provider is not the canonical spelling of a valid (large-order) Ed25519 key',
        );
        continue;
      }
      // v1 receipts name no network: earlier releases wrote them; they still bind to a pairing here (CREDIT10).
      if (receipt.v !== LEGACY_RECEIPT_VERSION && receipt.network !== this.network) {
        refuse(receipt, 'wrong-network', `issued for network ${receipt.network}, this is ${this.network}`);
        continue;
      }
      if (receipt.issuedAt > this.now() + C.MAX_RECEIPT_CLOCK_SKEW_MS) {
        refuse(receipt, 'invalid-receipt', 'issued in the future');
        continue;
      }
      if (this._head.length >= this.maxEntries) {
        refuse(receipt, 'log-full', `the log holds its limit of ${this.maxEntries} entries`);
        continue;
      }
      // Before the signature: an unpaired or over-budget receipt costs no verify.
      const verdict = this.pairings.check(receipt, this.now());
      if (!verdict.ok) {
        refuse(receipt, verdict.reason, verdict.message);
        continue;
      }
      try {
        // The pairing is on disk before any receipt that relies on it.
        await this.pairings.flushed();
        await this.append(log, receipt);
        accepted++;
      } catch (error) {
        if (!(error instanceof ReceiptError)) throw error;
        const reason: ReceiptRejectReason =
          error.code === 'bad-signature' ? 'bad-signature' : error.code === 'replay' ? 'replay' : 'invalid-receipt';
        refuse(receipt, reason, error.message);
      }
    }
    return { accepted, rejected, head: this._head };
  }

  /** Appends and indexes one receipt; on a shared log, retries when another instance appended first. */
  private async append(log: ReceiptLog, receipt: Receipt): Promise<void> {
    if (!this.options.sharedStorage) return this.index(await log.append(receipt));
    for (let attempt = 0; ; attempt++) {
      try {
        const entry = await log.append(receipt);
        return await this.indexed(entry.seq);
      } catch (error) {
        if (!(error instanceof LogConflictError) || attempt >= C.SHARED_LOG_APPEND_ATTEMPTS) throw error;
      }
    }
  }

  /** Resolves when this replica has indexed entry `seq` (its credit op came back). */
  private indexed(seq: number): Promise<void> {
    if (seq < this._head.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(new SharedStateUnavailable('the shared receipt log did not confirm an append in time'));
      }, C.SHARED_APPLY_TIMEOUT_MS);
      this.waiting.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** An entry appended to the shared log, by any instance, in log order (SPEC SCALE6). */
  applyCredit(entry: LogEntry): void {
    if (entry.seq < this._head.length) return;
    if (entry.seq !== this._head.length || entry.prevHash !== this._head.hash) {
      this.options.log?.error('shared-log-gap', { expected: this._head.length, got: entry.seq });
      return;
    }
    this.index(entry);
    const done = this.waiting.get(entry.seq);
    this.waiting.delete(entry.seq);
    done?.();
  }

  /** A requester reports a provider it was paired with (SPEC REP1). Returns true if this requester had not reported it before. */
  report(providerId: string, requester: string): boolean {
    const record = this.record(providerId);
    if (record.reporters.has(requester)) return false;
    record.reporters.add(requester);
    this.reportsFile.append({ provider: providerId, reporter: requester, at: this.now() });
    return true;
  }

  /**
   * What the matchmaker ranks by (SPEC REP2, REP4): each reporter weighs
   * min(1, units it credited to other providers / REPORT_FULL_WEIGHT_UNITS),
   * so a throwaway key's report weighs 0.
   */
  reportWeight(providerId: string): number {
    let weight = 0;
    for (const reporter of this.providers.get(providerId)?.reporters ?? []) {
      const elsewhere =
        (this.creditedBy.get(reporter) ?? 0) - (this.creditedPair.get(`${reporter} ${providerId}`) ?? 0);
      weight += Math.min(1, elsewhere / C.REPORT_FULL_WEIGHT_UNITS);
    }
    return weight;
  }

  /** Resolves when pairings and reports written so far are on disk. */
  async flushed(): Promise<void> {
    await this.pairings.flushed();
    await this.reportsFile.flushed();
  }

  /** The trust core's summary for matchmaking (SPEC REP2): logged units, distinct reporters as rejections. The server never excludes globally. */
  summary(providerId: string): ReputationSummary {
    const record = this.providers.get(providerId);
    const units = record?.seqs.length ?? 0;
    const rejected = record?.reporters.size ?? 0;
    return {
      peerId: providerId,
      units,
      rejected,
      excluded: false,
      score: reputationScore({ accepted: units, rejected }),
    };
  }

  leaderboard(limit: number, minRequesters: number): LeaderboardResponse {
    const rows = this.board.top(limit, minRequesters).map((row) => {
      const name = this.names.get(row.provider);
      return name === undefined ? row : { ...row, name };
    });
    return { head: this._head, providers: this.creditedProviders, rows };
  }

  /** The name a provider's key signed, already checked (SPEC NAME2); null clears it. */
  setName(providerId: string, name: string | null): void {
    this.names.delete(providerId);
    if (name === null) return;
    if (this.names.size >= C.MAX_DISPLAY_NAMES) this.names.delete(this.names.keys().next().value!);
    this.names.set(providerId, name);
  }

  nameOf(providerId: string): string | null {
    return this.names.get(providerId) ?? null;
  }

  /** A page of one provider's log entries, oldest first (SPEC HTTP10). */
  async receiptsOf(providerId: string, offset: number, limit: number): Promise<{ total: number; entries: LogEntry[] }> {
    const seqs = this.providers.get(providerId)?.seqs ?? [];
    const entries: LogEntry[] = [];
    for (const seq of seqs.slice(offset, offset + limit)) entries.push(...(await this.ready().entries(seq, seq + 1)));
    return { total: seqs.length, entries };
  }

  /** A page of the whole log, for anyone re-verifying it (SPEC HTTP11). */
  entries(offset: number, limit: number): Promise<LogEntry[]> {
    return this.ready().entries(offset, Math.min(offset + limit, this._head.length));
  }

  snapshot(): LedgerSnapshot {
    const reporters: LedgerSnapshot['reporters'] = [];
    for (const [provider, record] of this.providers)
      if (record.reporters.size) reporters.push([provider, [...record.reporters]]);
    return { head: this._head, reporters, pairings: this.pairings.snapshot(), names: [...this.names] };
  }

  /**
   * Loads a snapshot taken by another replica of the shared log (SPEC SCALE7):
   * indexes the receipt log up to the snapshot's head, then takes its reports
   * and pairings (whose credits already count those entries). Throws if the log
   * does not reach that head with that hash.
   */
  async restore(snapshot: LedgerSnapshot): Promise<void> {
    const log = this.ready();
    for (let from = this._head.length; from < snapshot.head.length; from += C.SNAPSHOT_READ_BATCH)
      for (const entry of await log.entries(from, Math.min(from + C.SNAPSHOT_READ_BATCH, snapshot.head.length)))
        this.index(entry, false);
    if (this._head.length !== snapshot.head.length || this._head.hash !== snapshot.head.hash)
      throw new Error(
        `the receipt log does not match the snapshot: ${this._head.length} entries indexed, the snapshot has ${snapshot.head.length}`,
      );
    for (const [provider, reporters] of snapshot.reporters) {
      const record = this.record(provider);
      for (const reporter of reporters) record.reporters.add(reporter);
    }
    this.pairings.restore(snapshot.pairings);
    for (const [provider, name] of snapshot.names ?? []) this.setName(provider, name);
  }

  // ------------------------------------------------------------------ internals

  private attach(storage: ReceiptLogStorage): void {
    this.storage = storage;
    this.log = new ReceiptLog(storage);
  }

  private ready(): ReceiptLog {
    if (!this.log || !this.storage) throw new Error('receipt log not opened: call TrustLedger.open() before serving');
    return this.log;
  }

  private record(providerId: string): ProviderRecord {
    let record = this.providers.get(providerId);
    if (!record) {
      record = { seqs: [], reporters: new Set() };
      this.providers.set(providerId, record);
    }
    return record;
  }

  /** `pairings` false: the pairings' credits come from a snapshot that already counted this entry. */
  private index(entry: LogEntry, pairings = true): void {
    const { requester, provider } = entry.receipt;
    this.creditedBy.set(requester, (this.creditedBy.get(requester) ?? 0) + 1);
    const pair = `${requester} ${provider}`;
    this.creditedPair.set(pair, (this.creditedPair.get(pair) ?? 0) + 1);
    if (pairings) this.pairings.credit(entry.receipt);
    this.board.add(entry.receipt);
    const record = this.record(entry.receipt.provider);
    if (record.seqs.push(entry.seq) === 1) this.creditedProviders++;
    this._head = { length: entry.seq + 1, hash: entry.hash };
  }
}

const NetworkFileSchema = v.strictObject({ network: v.pipe(v.string(), v.regex(NETWORK_ID_PATTERN)) });

/** The id given, else the one kept in `path`, else a new random one; whichever wins is kept in `path`. */
async function settleNetwork(path: string, given: string | undefined, make: () => string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  let kept: string | undefined;
  if (text !== null) {
    const parsed = v.safeParse(NetworkFileSchema, JSON.parse(text) as unknown);
    if (!parsed.success) throw new Error(`${path}: not a network id file (${parsed.issues[0].message})`);
    kept = parsed.output.network;
  }
  const network = given ?? kept ?? make();
  if (network !== kept) await writeFile(path, JSON.stringify({ network }) + '\n', 'utf8');
  return network;
}
