/**
 * The GPT forward and backward as readable lists of kernel calls (llm.c's
 * gpt2_forward / gpt2_backward), over any backend's Kernels and one Arena.
 * Tokens and targets must already sit in the arena's integer regions.
 */
import type { GptConfig } from './config';
import { TrainError } from './errors';
import type { Kernels } from './kernels';
import { NONE } from './kernels';
import { type Arena, offsets } from './layout';

interface Views {
  readonly p: Record<string, number>;
  readonly g: Record<string, number>;
  readonly a: Record<string, number>;
  readonly d: Record<string, number>;
}

const viewCache = new WeakMap<Arena, Views>();

function views(arena: Arena): Views {
  let v = viewCache.get(arena);
  if (v === undefined) {
    v = {
      p: offsets(arena.params, arena.paramsAt),
      g: offsets(arena.params, arena.gradsAt),
      a: offsets(arena.acts, arena.actsAt),
      d: offsets(arena.acts, arena.dactsAt),
    };
    viewCache.set(arena, v);
  }
  return v;
}

function at(r: Record<string, number>, name: string): number {
  return r[name]!;
}

function batchRows(arena: Arena, rows: number): number {
  if (!(Number.isInteger(rows) && rows >= 1 && rows <= arena.B))
    throw new RangeError(`rows ${rows} outside 1..${arena.B}`);
  return rows;
}

/**
 * Forward pass; returns nothing — the per-position losses are in acts.losses. With `rows` < B, only the
 * batch's first rows run (a [B, T, …] tensor's first rows are a prefix of it): a batch filled in part costs
 * only its filled rows, and those rows' values are the full pass's.
 */
export function gptForward(k: Kernels, arena: Arena, rows = arena.B): void {
  const c = arena.config as GptConfig;
  const B = batchRows(arena, rows);
  const N = B * arena.T;
  forwardPositions(k, arena, B, 0, arena.T);
  const { a } = views(arena);
  k.crossentropyForward(at(a, 'losses'), at(a, 'probs'), at(a, 'logits'), arena.targetsAt, N, c.vocab);
}

/**
 * The forward of positions [from, to) of a one-row arena whose earlier positions already hold this
 * sequence's activations: incremental decoding, the activations themselves serving as the key/value cache.
 * A token costs a few rows of every matmul instead of the whole context. The rows agree bit for bit with
 * gptForward's on the same tokens, on the JS and WASM kernels: every per-position kernel runs on a block
 * of rows that starts at an even position and ends at an even one (or at T), so the WASM matmul takes each
 * row through the same 2-row path the full pass does (it sums an odd last row in another order), and
 * attention runs over the whole context as in the full pass: causal, so a query reads only rows ≤ its own,
 * and positions past the sequence hold finite values of an earlier pass. The token slots of [from, to)
 * must be written, and the slot after `to` too when `to` is odd (PAD will do: that row is scratch until its
 * token is known, when it is computed again). Crossentropy is not run (losses and probs are left as they were).
 */
export function gptForwardRows(k: Kernels, arena: Arena, from: number, to: number): void {
  const T = arena.T;
  if (arena.B !== 1) throw new RangeError('incremental decoding runs on a one-row arena');
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= T))
    throw new RangeError(`positions [${from}, ${to}) outside 0..${T}`);
  const r0 = from - (from % 2);
  forwardPositions(k, arena, 1, r0, Math.min(T, to + (to % 2)) - r0);
}

/**
 * The forward up to the logits, shared by gptForward and gptForwardRows: the per-position kernels on
 * positions [t0, t0 + n) of each of the first B rows (t0 > 0 only with B = 1, where those positions are
 * contiguous), attention over the whole context of those rows.
 */
function forwardPositions(k: Kernels, arena: Arena, B: number, t0: number, n: number): void {
  const c = arena.config as GptConfig;
  const T = arena.T;
  const C = c.width;
  const N = B * n;
  const { p, a } = views(arena);
  const x = (name: string, width = C) => at(a, name) + t0 * width;
  k.encoderForward(x('encoded'), arena.tokensAt + t0, at(p, 'wte'), at(p, 'wpe') + t0 * C, B, n, C);
  let residual = 'encoded';
  for (let l = 0; l < c.layers; l++) {
    const h = (name: string) => at(p, `h${l}.${name}`);
    const y = (name: string, width = C) => x(`h${l}.${name}`, width);
    k.layernormForward(y('ln1'), y('ln1Mean', 1), y('ln1Rstd', 1), x(residual), h('ln1w'), h('ln1b'), N, C);
    k.matmulForward(y('qkv', 3 * C), y('ln1'), h('qkvw'), h('qkvb'), N, C, 3 * C);
    k.attentionForward(at(a, `h${l}.atty`), at(a, `h${l}.att`), at(a, `h${l}.qkv`), B, T, C, c.heads);
    k.matmulForward(y('attproj'), y('atty'), h('attprojw'), h('attprojb'), N, C, C);
    k.residualForward(y('residual2'), x(residual), y('attproj'), N * C);
    k.layernormForward(y('ln2'), y('ln2Mean', 1), y('ln2Rstd', 1), y('residual2'), h('ln2w'), h('ln2b'), N, C);
    k.matmulForward(y('fch', 4 * C), y('ln2'), h('fcw'), h('fcb'), N, C, 4 * C);
    k.geluForward(y('fchGelu', 4 * C), y('fch', 4 * C), N * 4 * C);
    k.matmulForward(y('fcproj'), y('fchGelu', 4 * C), h('fcprojw'), h('fcprojb'), N, 4 * C, C);
    k.residualForward(y('residual3'), y('residual2'), y('fcproj'), N * C);
    residual = `h${l}.residual3`;
  }
  k.layernormForward(x('lnf'), x('lnfMean', 1), x('lnfRstd', 1), x(residual), at(p, 'lnfw'), at(p, 'lnfb'), N, C);
  // Tied head: logits = lnf · wteᵀ.
  k.matmulForward(x('logits', c.vocab), x('lnf'), at(p, 'wte'), NONE, N, C, c.vocab);
}

/**
 * The policy's hidden state: the final LayerNorm's output per position, [B, T, C] at this slot after
 * gptForward (what the head reads; GRAIL's sketches commit to it).
 */
export function gptHiddenAt(arena: Arena): number {
  return at(views(arena).a, 'lnf');
}

/** The logits, [B, T, V] at this slot after a forward (row n predicts the token after position n). */
export function gptLogitsAt(arena: Arena): number {
  return at(views(arena).a, 'logits');
}

/** Where the per-position weights of a weighted backward go: the losses' gradient slots, [B, T]. */
export function gptLossWeightsAt(arena: Arena): number {
  return at(views(arena).d, 'losses');
}

/**
 * Backward of the mean loss; zeroes and then fills grads (and the activation gradients). With `weighted`,
 * the backward of Σ w_n · losses[n] instead, the weights read from gptLossWeightsAt (left as the caller wrote them).
 * `rows`: the first rows only, after a forward of the same rows (the others weigh nothing).
 */
export function gptBackward(k: Kernels, arena: Arena, weighted = false, rows = arena.B): void {
  const c = arena.config as GptConfig;
  const B = batchRows(arena, rows);
  const T = arena.T;
  const C = c.width;
  const N = B * T;
  const { p, g, a, d } = views(arena);
  k.zero(arena.gradsAt, arena.params.size);
  if (weighted) {
    if (k.crossentropyBackwardWeighted === undefined) throw new TrainError('backend', 'no weighted cross-entropy here');
    const w = at(d, 'losses');
    k.zero(arena.dactsAt, w - arena.dactsAt);
    const after = w + N;
    k.zero(after, arena.dactsAt + arena.acts.size - after);
    k.crossentropyBackwardWeighted(at(d, 'logits'), at(a, 'probs'), arena.targetsAt, w, N, c.vocab);
  } else {
    k.zero(arena.dactsAt, arena.acts.size);
    k.crossentropyBackward(at(d, 'logits'), at(a, 'probs'), arena.targetsAt, N, c.vocab);
  }
  k.matmulBackward(at(d, 'lnf'), at(g, 'wte'), NONE, at(d, 'logits'), at(a, 'lnf'), at(p, 'wte'), N, C, c.vocab);
  const last = c.layers - 1;
  const residualOf = (l: number, r: Record<string, number>) => (l < 0 ? at(r, 'encoded') : at(r, `h${l}.residual3`));
  k.layernormBackward(
    residualOf(last, d),
    at(g, 'lnfw'),
    at(g, 'lnfb'),
    at(d, 'lnf'),
    residualOf(last, a),
    at(p, 'lnfw'),
    at(a, 'lnfMean'),
    at(a, 'lnfRstd'),
    N,
    C,
  );
  for (let l = last; l >= 0; l--) {
    const h = (n: string) => at(p, `h${l}.${n}`);
    const hg = (n: string) => at(g, `h${l}.${n}`);
    const x = (n: string) => at(a, `h${l}.${n}`);
    const dx = (n: string) => at(d, `h${l}.${n}`);
    const residual = residualOf(l - 1, a);
    const dresidual = residualOf(l - 1, d);
    k.residualBackward(dx('residual2'), dx('fcproj'), dx('residual3'), N * C);
    k.matmulBackward(
      dx('fchGelu'),
      hg('fcprojw'),
      hg('fcprojb'),
      dx('fcproj'),
      x('fchGelu'),
      h('fcprojw'),
      N,
      4 * C,
      C,
    );
    k.geluBackward(dx('fch'), x('fch'), dx('fchGelu'), N * 4 * C);
    k.matmulBackward(dx('ln2'), hg('fcw'), hg('fcb'), dx('fch'), x('ln2'), h('fcw'), N, C, 4 * C);
    k.layernormBackward(
      dx('residual2'),
      hg('ln2w'),
      hg('ln2b'),
      dx('ln2'),
      x('residual2'),
      h('ln2w'),
      x('ln2Mean'),
      x('ln2Rstd'),
      N,
      C,
    );
    k.residualBackward(dresidual, dx('attproj'), dx('residual2'), N * C);
    k.matmulBackward(dx('atty'), hg('attprojw'), hg('attprojb'), dx('attproj'), x('atty'), h('attprojw'), N, C, C);
    k.attentionBackward(dx('qkv'), dx('atty'), x('qkv'), x('att'), B, T, C, c.heads);
    k.matmulBackward(dx('ln1'), hg('qkvw'), hg('qkvb'), dx('qkv'), x('ln1'), h('qkvw'), N, C, 3 * C);
    k.layernormBackward(
      dresidual,
      hg('ln1w'),
      hg('ln1b'),
      dx('ln1'),
      residual,
      h('ln1w'),
      x('ln1Mean'),
      x('ln1Rstd'),
      N,
      C,
    );
  }
  k.encoderBackward(at(g, 'wte'), at(g, 'wpe'), at(d, 'encoded'), arena.tokensAt, B, T, C);
}
