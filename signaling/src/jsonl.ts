/**
 * Small append-only JSON-lines files kept beside the receipt log (pairings,
 * reports). Every line is validated on read, like the wire. A crash can leave at
 * most one torn last line: it was never acknowledged, so it is dropped with a
 * warning; any other bad line is damage and stops start-up (JsonlFileError).
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';
import { JsonlFileError } from './errors';
import type { Logger } from './log';

/** Parses every complete line of `path` with `schema`; a missing file has none. */
export async function readJsonl<S extends v.GenericSchema>(
  path: string,
  schema: S,
  log?: Logger,
): Promise<v.InferOutput<S>[]> {
  await mkdir(dirname(path), { recursive: true });
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const lines = text.split('\n');
  const torn = lines.pop() ?? ''; // '' when the file ends with a newline
  if (torn !== '') log?.warn('jsonl-torn-tail', { path, line: lines.length + 1, dropped: torn.length });
  return lines.map((line, i) => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new JsonlFileError(path, i + 1, 'not valid JSON');
    }
    const parsed = v.safeParse(schema, raw);
    if (!parsed.success) throw new JsonlFileError(path, i + 1, `unexpected record: ${parsed.issues[0].message}`);
    return parsed.output;
  });
}

/** Replaces the file's contents atomically (compaction). */
export async function rewriteJsonl(path: string, records: readonly unknown[]): Promise<void> {
  const text = records.map((r) => JSON.stringify(r) + '\n').join('');
  await writeFile(path + '.tmp', text, 'utf8');
  await rename(path + '.tmp', path);
}

/** Appends records in order without blocking the caller; `flushed()` waits for them. */
export class JsonlAppender {
  private writes: Promise<void> = Promise.resolve();
  private error: unknown = null;

  constructor(private readonly path: string | undefined) {}

  append(record: unknown): void {
    const path = this.path;
    if (!path) return;
    const line = JSON.stringify(record) + '\n';
    this.writes = this.writes.then(() =>
      appendFile(path, line, 'utf8').catch((error: unknown) => {
        this.error = error;
      }),
    );
  }

  /** Resolves when every record so far is on disk; throws if a write failed. */
  async flushed(): Promise<void> {
    await this.writes;
    if (this.error) throw this.error;
  }
}
