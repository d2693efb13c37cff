/**
 * The receipt log on disk (`--data DIR`): one JSON log entry per line, append
 * only, so `tail -f`, `wc -l` and `jq` work on it and a crash can at worst leave
 * one incomplete last line. On open the whole file is parsed and the hash chain
 * and every signature re-verified (trust core `verifyChain`); the first bad line
 * is a ReceiptLogFileError and the server does not start (SPEC CREDIT6).
 * Entries are also kept in memory: reads and the replay index never touch disk.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import * as v from 'valibot';
import { ChainError } from '@shared/trust';
import { MemoryReceiptLogStorage, verifyChain, type LogEntry, type ReceiptLogStorage } from '@shared/trust';
import { ReceiptSchema } from '@shared/trust';
import { ReceiptLogFileError } from './errors';

const HashHex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));

/** One line of the file. Strict, like the wire: a line is data from disk, not trusted. */
export const LogEntrySchema = v.strictObject({
  seq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  prevHash: HashHex,
  hash: HashHex,
  receipt: ReceiptSchema,
});

export class FileReceiptLogStorage implements ReceiptLogStorage {
  private constructor(
    readonly path: string,
    private readonly memory: MemoryReceiptLogStorage,
  ) {}

  /** Reads and verifies `path` (created empty if missing). Throws ReceiptLogFileError naming the first bad line. */
  static async open(path: string): Promise<FileReceiptLogStorage> {
    await mkdir(dirname(path), { recursive: true });
    const entries = await readEntries(path);
    try {
      await verifyChain(entries);
    } catch (error) {
      if (error instanceof ChainError)
        throw new ReceiptLogFileError(path, error.index + 1, error.message.replace(/^entry \d+: /, ''));
      throw error;
    }
    const memory = new MemoryReceiptLogStorage();
    for (const entry of entries) await memory.append(entry);
    return new FileReceiptLogStorage(path, memory);
  }

  /** Disk first: an entry is in memory (and acknowledged) only once it is in the file. */
  async append(entry: LogEntry): Promise<void> {
    await appendFile(this.path, JSON.stringify(entry) + '\n', 'utf8');
    await this.memory.append(entry);
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
}

/** Streams the file line by line (a big log would not fit one string). */
async function readEntries(path: string): Promise<LogEntry[]> {
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
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') throw new ReceiptLogFileError(path, lineNo, 'blank line');
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new ReceiptLogFileError(path, lineNo, 'not valid JSON');
    }
    const parsed = v.safeParse(LogEntrySchema, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      throw new ReceiptLogFileError(
        path,
        lineNo,
        `not a log entry (${v.getDotPath(issue) ?? 'entry'}: ${issue.message})`,
      );
    }
    entries.push(parsed.output);
  }
  if (!(await endsWithNewline(path, size)))
    throw new ReceiptLogFileError(path, lineNo, 'incomplete last line (the server stopped mid-write?)');
  return entries;
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
