/**
 * Greedy continuation for the dashboard's text samples and for checking exports: the GPT forward on a
 * one-row WASM arena whose weights are copied from the training engine. Positions past the prompt hold
 * token 0; causal attention keeps them from touching the positions read.
 */
import { arenaFor, encodeForward, type GptConfig, gptLogitsAt, type Tokenizer, WasmBackend } from '../../train';

export class GreedySampler {
  readonly backend: WasmBackend;
  private readonly logitsAt: number;

  constructor(readonly config: GptConfig) {
    this.backend = new WasmBackend(arenaFor(config, 1, config.context));
    const a = this.backend.arena;
    this.logitsAt = gptLogitsAt(a);
  }

  setParams(params: Float32Array): void {
    this.backend.writeFloats(this.backend.arena.paramsAt, params);
  }

  /** Logits (V floats) at every position of `ids` (at most context tokens). */
  logits(ids: ArrayLike<number>): Float32Array {
    const b = this.backend;
    const T = this.config.context;
    const V = this.config.vocab;
    if (ids.length < 1 || ids.length > T) throw new RangeError(`a prompt holds 1..${T} tokens`);
    const row = new Int32Array(T);
    row.set(Array.from(ids));
    b.writeInts(b.arena.tokensAt, row);
    b.writeInts(b.arena.targetsAt, new Int32Array(T));
    encodeForward(b);
    return b.f.slice(this.logitsAt, this.logitsAt + ids.length * V);
  }

  /**
   * `n` more tokens, each the argmax over ids below `limit` (lowest id on ties; a tokenizer may fill fewer
   * than the config's vocabulary), sliding the window past the context.
   */
  continueIds(prompt: readonly number[], n: number, limit = this.config.vocab): number[] {
    const V = this.config.vocab;
    const top = Math.min(limit, V);
    const T = this.config.context;
    const ids = prompt.length > 0 ? [...prompt] : [0];
    const out: number[] = [];
    for (let k = 0; k < n; k++) {
      const recent = ids.slice(-T);
      const all = this.logits(recent);
      const at = (recent.length - 1) * V;
      let best = 0;
      for (let v = 1; v < top; v++) if (all[at + v]! > all[at + best]!) best = v;
      ids.push(best);
      out.push(best);
    }
    return out;
  }

  continueText(tokenizer: Tokenizer, prompt: string, n: number): string {
    const ids = [...tokenizer.encode(prompt)];
    return tokenizer.decode(this.continueIds(ids, n, tokenizer.vocabSize));
  }

  dispose(): void {
    this.backend.dispose();
  }
}
