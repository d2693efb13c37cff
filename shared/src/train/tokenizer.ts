/**
 * Byte-level BPE (GPT-2 style): text → UTF-8 bytes → ids 0..255, then merges
 * learned on a corpus until the vocabulary has the preset's size. Text is
 * first split into chunks (words with their leading space, numbers,
 * punctuation runs, whitespace) and merges never cross a chunk. A merge that
 * would touch a digit byte is never learned, so every digit stays one token
 * (the RL tasks read numbers digit by digit). Ties between equally frequent
 * pairs go to the smaller (left id, right id), so training is deterministic.
 */
import { TokenizerError } from './errors';

/** The 256 single-byte tokens every byte-level vocabulary starts from. */
const BYTE_TOKENS = 256;
/** Serialised form's version, bumped when the chunking rule or format changes. */
const FORMAT = 'bpe-bytes-1';
/** GPT-2's pre-tokenizer pattern (contractions, letters, numbers, other, whitespace). */
const CHUNK = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface TokenizerJson {
  readonly format: typeof FORMAT;
  readonly vocabSize: number;
  /** merges[k] = [left, right] makes token 256 + k. */
  readonly merges: readonly (readonly [number, number])[];
}

function isDigitToken(bytes: Uint8Array): boolean {
  return bytes.some((b) => b >= 0x30 && b <= 0x39);
}

function chunks(text: string): string[] {
  return text.match(CHUNK) ?? [];
}

const key = (a: number, b: number) => a * 65536 + b;

export class Tokenizer {
  private readonly rank = new Map<number, number>();
  private readonly bytesOf: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();

  private constructor(readonly merges: readonly (readonly [number, number])[]) {
    for (let b = 0; b < BYTE_TOKENS; b++) this.bytesOf.push(Uint8Array.of(b));
    merges.forEach(([a, b], k) => {
      const left = this.bytesOf[a];
      const right = this.bytesOf[b];
      if (left === undefined || right === undefined) throw new TokenizerError(`merge ${k} refers to an unknown token`);
      const joined = new Uint8Array(left.length + right.length);
      joined.set(left);
      joined.set(right, left.length);
      if (isDigitToken(joined)) throw new TokenizerError(`merge ${k} would join a digit`);
      this.rank.set(key(a, b), k);
      this.bytesOf.push(joined);
    });
  }

  get vocabSize(): number {
    return BYTE_TOKENS + this.merges.length;
  }

  /** Learns vocabSize − 256 merges (fewer if the corpus runs out of pairs). */
  static train(text: string, vocabSize: number): Tokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < BYTE_TOKENS || vocabSize > 65536)
      throw new TokenizerError(`vocabulary size must be within 256..65536, got ${vocabSize}`);
    const counts = new Map<string, number>();
    for (const c of chunks(text)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const enc = new TextEncoder();
    const words: number[][] = [];
    const freq: number[] = [];
    for (const [c, n] of counts) {
      words.push([...enc.encode(c)]);
      freq.push(n);
    }
    const digit = new Uint8Array(vocabSize); // 1 where a token contains a digit byte
    for (let b = 0x30; b <= 0x39; b++) digit[b] = 1;
    const pairCount = new Map<number, number>();
    const where = new Map<number, Set<number>>();
    const add = (w: number, sign: number) => {
      const ids = words[w]!;
      for (let i = 0; i + 1 < ids.length; i++) {
        const a = ids[i]!;
        const b = ids[i + 1]!;
        if (digit[a] || digit[b]) continue;
        const k = key(a, b);
        pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[w]!);
        if (sign > 0) {
          let s = where.get(k);
          if (s === undefined) where.set(k, (s = new Set()));
          s.add(w);
        }
      }
    };
    for (let w = 0; w < words.length; w++) add(w, 1);
    const merges: [number, number][] = [];
    while (BYTE_TOKENS + merges.length < vocabSize) {
      let best = -1;
      let bestCount = 0;
      for (const [k, n] of pairCount)
        if (n > bestCount || (n === bestCount && n > 0 && k < best)) [best, bestCount] = [k, n];
      if (bestCount <= 0) break;
      const a = Math.floor(best / 65536);
      const b = best % 65536;
      const id = BYTE_TOKENS + merges.length;
      merges.push([a, b]);
      for (const w of where.get(best) ?? []) {
        add(w, -1);
        const ids = words[w]!;
        const out: number[] = [];
        for (let i = 0; i < ids.length; i++)
          if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
            out.push(id);
            i++;
          } else out.push(ids[i]!);
        words[w] = out;
        add(w, 1);
      }
      pairCount.delete(best);
      where.delete(best);
    }
    return new Tokenizer(merges);
  }

  encode(text: string): Int32Array {
    const out: number[] = [];
    const enc = new TextEncoder();
    for (const c of chunks(text)) {
      let ids = this.cache.get(c);
      if (ids === undefined) {
        ids = this.mergeChunk([...enc.encode(c)]);
        // Bounded: a corpus has a few tens of thousands of distinct chunks.
        if (this.cache.size < 100_000) this.cache.set(c, ids);
      }
      for (const id of ids) out.push(id);
    }
    return Int32Array.from(out);
  }

  private mergeChunk(ids: number[]): number[] {
    for (;;) {
      let bestRank = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.rank.get(key(ids[i]!, ids[i + 1]!));
        if (r !== undefined && r < bestRank) [bestRank, at] = [r, i];
      }
      if (at < 0) return ids;
      ids.splice(at, 2, BYTE_TOKENS + bestRank);
    }
  }

  decode(ids: ArrayLike<number>): string {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]!];
      if (b === undefined) throw new TokenizerError(`token ${ids[i]} is outside the vocabulary`);
      parts.push(b);
      n += b.length;
    }
    const all = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder().decode(all);
  }

  toJSON(): TokenizerJson {
    return { format: FORMAT, vocabSize: this.vocabSize, merges: this.merges };
  }

  static fromJSON(json: unknown): Tokenizer {
    const j = json as Partial<TokenizerJson> | null;
    if (j?.format !== FORMAT) throw new TokenizerError(`unknown tokenizer format ${String(j?.format)}`);
    if (!Array.isArray(j.merges) || j.vocabSize !== BYTE_TOKENS + j.merges.length)
      throw new TokenizerError('merges do not match the vocabulary size');
    for (const m of j.merges)
      if (!Array.isArray(m) || m.length !== 2 || !m.every((x) => Number.isInteger(x) && x >= 0))
        throw new TokenizerError('a merge is not a pair of token ids');
    return new Tokenizer(j.merges);
  }
}
