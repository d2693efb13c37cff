/**
 * The receipt log on disk (`--data DIR`): one JSON log entry per line, append
 * only, so `tail -f`, `wc -l` and `jq` work on it and a crash can at worst leave
 * one incomplete last line. On open the whole file is parsed and the hash chain
 * checked (trust core `verifyChain`); the first bad line is a ReceiptLogFileError
 * and the server does not start (SPEC CREDIT6).
 *
 * Recovery without a person (SPEC CREDIT14–CREDIT16): a torn last line (never
 * acknowledged) is dropped with a warning and cut off the file; a checkpoint
 * beside the log (`receipts.head.json`, the head last published, written at most
 * once per CHECKPOINT_INTERVAL_MS and at close) must still be in the chain, so a
 * deleted tail is noticed; signatures are re-verified only after the checkpoint,
 * since the hash chain up to a verified head already pins every byte before it.
 * With fsync on, every append and checkpoint is flushed to disk before it is
 * acknowledged. Entries are also kept in memory: reads and the replay index never
 * touch disk.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import * as v from 'valibot';
import { ChainError } from '@shared/trust';
import { MemoryReceiptLogStorage, verifyChain, type LogEntry, type ReceiptLogStorage } from '@shared/trust';
import { ReceiptSchema, verifyReceipt } from '@shared/trust';
import * as C from './constants';
import { ReceiptLogFileError } from './errors';
import type { Logger } from './log';
import { messageOf } from '@shared/errors';

const HashHex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));

/** One line of the file. Strict, like the wire: a line is data from disk, not trusted. */
export const LogEntrySchema = v.strictObject({
  seq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  prevHash: HashHex,
  hash: HashHex,
  receipt: ReceiptSchema,
});

const CheckpointSchema = v.strictObject({
  length: v.pipe(v.number(), v.integer(), v.minValue(0)),
  hash: HashHex,
});

export interface FileLogOptions {
  /** Flush every append and checkpoint to disk before acknowledging (SPEC CREDIT16). */
  fsync?: boolean;
  log?: Logger;
}

export class FileReceiptLogStorage implements ReceiptLogStorage {
  private checkpointTimer: ReturnType<typeof setTimeout> | null = null;
  private checkpointed = 0;

  private constructor(
    readonly path: string,
    private readonly memory: MemoryReceiptLogStorage,
    private readonly handle: FileHandle,
    private readonly options: FileLogOptions,
    /** Signatures re-verified at open: those after the checkpoint (SPEC CREDIT15). */
    readonly signaturesChecked: number,
  ) {}

  get checkpointPath(): string {
    return join(dirname(this.path), C.RECEIPT_CHECKPOINT_FILE);
  }

  /** Reads and verifies `path` (created empty if missing). Throws ReceiptLogFileError naming the first bad line. */
  static async open(path: string, options: FileLogOptions = {}): Promise<FileReceiptLogStorage> {
    await mkdir(dirname(path), { recursive: true });
    const entries = await readEntries(path, options.log);
    const checkpointPath = join(dirname(path), C.RECEIPT_CHECKPOINT_FILE);
    const checkpoint = await readCheckpoint(checkpointPath);
    if (checkpoint && checkpoint.length > entries.length)
      throw new ReceiptLogFileError(
        path,
        entries.length + 1,
        `the log ends after ${entries.length} entries but a head of ${checkpoint.length} was published (${checkpointPath}): entries were deleted`,
      );
    let checked = 0;
    try {
      // The chain up to a verified head pins every byte before it; only later entries need their
      // signatures. The first bad entry is reported, whether its link or its signature is bad.
      const chainError = await verifyChain(entries, {
        checkSignatures: false,
        ...(checkpoint && checkpoint.length > 0
          ? { expectedHead: { seq: checkpoint.length - 1, hash: checkpoint.hash } }
          : {}),
      }).then(
        () => null,
        (error: unknown) => {
          if (error instanceof ChainError) return error;
          throw error;
        },
      );
      const end = Math.min(entries.length, chainError?.index ?? entries.length);
      for (let i = checkpoint?.length ?? 0; i < end; i++) {
        try {
          await verifyReceipt(entries[i]!.receipt);
          checked++;
        } catch (error) {
          throw new ChainError(i, `receipt does not verify: ${messageOf(error)}`);
        }
      }
      if (chainError) throw chainError;
    } catch (error) {
      if (error instanceof ChainError)
        throw new ReceiptLogFileError(path, error.index + 1, error.message.replace(/^entry \d+: /, ''));
      throw error;
    }
    const memory = new MemoryReceiptLogStorage();
    for (const entry of entries) await memory.append(entry);
    const handle = await open(path, 'a');
    const storage = new FileReceiptLogStorage(path, memory, handle, options, checked);
    storage.checkpointed = checkpoint?.length ?? 0;
    await storage.writeCheckpoint();
    return storage;
  }

  /** Disk first: an entry is in memory (and acknowledged) only once it is in the file. */
  async append(entry: LogEntry): Promise<void> {
    await this.handle.appendFile(JSON.stringify(entry) + '\n', 'utf8');
    if (this.options.fsync) await this.handle.sync();
    await this.memory.append(entry);
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = null;
      this.writeCheckpoint().catch((error: unknown) => this.options.log?.error('checkpoint-failed', { error }));
    }, C.CHECKPOINT_INTERVAL_MS);
    this.checkpointTimer.unref?.();
  }

  /** Writes the final checkpoint and closes the file. */
  async close(): Promise<void> {
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = null;
    await this.writeCheckpoint();
    await this.handle.close();
  }

  length(): Promise<number> {
    return this.memory.length();
  }
  last(): Promise<LogEntry | undefined> {
    return this.memory.last();
  }
  read(from: number, to: number): Promise<LogEntry[]> {
    return this.memory.read(from, to);
  }
  hasReceipt(id: string, unitKey: string): Promise<boolean> {
    return this.memory.hasReceipt(id, unitKey);
  }

  /** Records the current head as verified and published, atomically (tmp + rename). */
  private async writeCheckpoint(): Promise<void> {
    const last = await this.memory.last();
    const length = last ? last.seq + 1 : 0;
    if (length === this.checkpointed && length > 0) return;
    const text = JSON.stringify({ length, hash: last?.hash ?? '0'.repeat(64) }) + '\n';
    const tmp = this.checkpointPath + '.tmp';
    await writeFile(tmp, text, 'utf8');
    if (this.options.fsync) {
      const h = await open(tmp, 'r+');
      await h.sync();
      await h.close();
    }
    await rename(tmp, this.checkpointPath);
    this.checkpointed = length;
  }
}

async function readCheckpoint(path: string): Promise<v.InferOutput<typeof CheckpointSchema> | null> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ReceiptLogFileError(path, 1, 'checkpoint is not valid JSON');
  }
  const parsed = v.safeParse(CheckpointSchema, raw);
  if (!parsed.success) throw new ReceiptLogFileError(path, 1, `not a checkpoint: ${parsed.issues[0].message}`);
  return parsed.output;
}

/**
 * Streams the file line by line (a big log would not fit one string). A bad line
 * is an error unless it is the last one and unterminated: a write cut short by a
 * crash, never acknowledged, so it is dropped with a warning and cut off the file.
 * An unterminated last line that is a whole entry is kept and terminated.
 */
async function readEntries(path: string, log?: Logger): Promise<LogEntry[]> {
  const size = await stat(path).then(
    (s) => s.size,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return 0;
      throw error;
    },
  );
  if (size === 0) return [];
  const entries: LogEntry[] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let pending: { error: ReceiptLogFileError; text: string } | null = null;
  for await (const line of lines) {
    if (pending) throw pending.error;
    lineNo++;
    const result = parseLine(path, lineNo, line);
    if (result instanceof ReceiptLogFileError) pending = { error: result, text: line };
    else entries.push(result);
  }
  const terminated = await endsWithNewline(path, size);
  if (pending) {
    if (terminated) throw pending.error;
    const keep = size - Buffer.byteLength(pending.text, 'utf8');
    log?.warn('receipt-log-torn-tail', { path, line: lineNo, dropped: size - keep });
    await truncate(path, keep);
  } else if (!terminated) {
    const handle = await open(path, 'a');
    await handle.appendFile('\n');
    await handle.close();
  }
  return entries;
}

function parseLine(path: string, lineNo: number, line: string): LogEntry | ReceiptLogFileError {
  if (line.trim() === '') return new ReceiptLogFileError(path, lineNo, 'blank line');
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return new ReceiptLogFileError(path, lineNo, 'not valid JSON');
  }
  const parsed = v.safeParse(LogEntrySchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    return new ReceiptLogFileError(
      path,
      lineNo,
      `not a log entry (${v.getDotPath(issue) ?? 'entry'}: ${issue.message})`,
    );
  }
  return parsed.output;
}

async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, size - 1);
    return byte[0] === 0x0a;
  } finally {
    await handle.close();
  }
}
