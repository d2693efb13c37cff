/**
 * The TF.js twin of the engine's GPT for bench:train: the same network
 * (pre-norm LayerNorm with eps 1e-5, causal attention, tanh GELU, tied head),
 * started from the engine's own initial weights (taken from its parameter
 * layout by name), trained on the same batches, with AdamW written to the
 * same maths (bias correction, decoupled decay on every parameter, global-norm
 * clip at 1). Only the gradients come from TF.js's autodiff.
 */
import type * as TF from '@tensorflow/tfjs';
import { type AdamWHyper, type GptConfig, GRAD_CLIP, LAYERNORM_EPS, type Layout } from '@shared/train';

type Tf = typeof TF;

export class TfjsGpt {
  private readonly vars = new Map<string, TF.Variable>();
  private readonly m = new Map<string, TF.Variable>();
  private readonly v = new Map<string, TF.Variable>();
  private t = 0;
  /** TF.js variable names are global: each twin gets its own prefix. */
  private static count = 0;
  private readonly prefix = `twin${TfjsGpt.count++}/`;

  constructor(
    private readonly tf: Tf,
    private readonly c: GptConfig,
    layout: Layout,
    params: Float32Array,
    private readonly hp: AdamWHyper,
  ) {
    for (const s of layout.tensors) {
      const raw = tf.tensor(params.subarray(s.offset, s.offset + s.size), [...s.shape]);
      // Linear weights go in TF.js's own (in, out) layout: tfjs-backend-wasm's matMul is ~5× slower with a
      // transposed operand. The embeddings stay (rows, width); the tied head transposes wte as it must.
      const value = s.shape.length === 2 && s.name !== 'wte' && s.name !== 'wpe' ? tf.transpose(raw) : raw;
      if (value !== raw) raw.dispose();
      this.vars.set(s.name, tf.variable(value, true, this.prefix + s.name));
      this.m.set(s.name, tf.variable(tf.zerosLike(value), false));
      this.v.set(s.name, tf.variable(tf.zerosLike(value), false));
      value.dispose();
    }
  }

  private p(name: string): TF.Variable {
    return this.vars.get(name)!;
  }

  private layernorm(x: TF.Tensor, w: string, b: string): TF.Tensor {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const d = tf.sub(x, mean);
    const variance = tf.mean(tf.square(d), -1, true);
    return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(variance, LAYERNORM_EPS))), this.p(w)), this.p(b));
  }

  private linear(x: TF.Tensor2D, w: string, b: string | null): TF.Tensor2D {
    const y: TF.Tensor =
      w === 'wte'
        ? this.tf.matMul(x, this.p(w) as TF.Tensor2D, false, true)
        : this.tf.matMul(x, this.p(w) as TF.Tensor2D);
    return b === null ? (y as TF.Tensor2D) : (this.tf.add(y, this.p(b)) as TF.Tensor2D);
  }

  private gelu(x: TF.Tensor): TF.Tensor {
    const tf = this.tf;
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  }

  /** Mean next-token cross-entropy of a batch (B·T ids, row-major). */
  loss(inputs: Int32Array, targets: Int32Array, B: number, T: number): TF.Scalar {
    const tf = this.tf;
    const { width: C, heads: NH, vocab: V } = this.c;
    const hs = C / NH;
    const N = B * T;
    // tfjs-backend-wasm lacks UnsortedSegmentSum, the gradient of gather, so the lookup is a one-hot
    // product (N·V·C extra multiply-adds, ~5% of a small-preset step) — the usual TF.js workaround.
    const onehotIn = tf.oneHot(tf.tensor1d(inputs, 'int32'), V).asType('float32') as TF.Tensor2D;
    const emb = tf.matMul(onehotIn, this.p('wte') as TF.Tensor2D);
    let x = tf.add(emb, tf.tile(tf.slice(this.p('wpe'), [0, 0], [T, C]), [B, 1])) as TF.Tensor2D;
    const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
    const mask = tf.mul(tf.sub(1, causal), -1e9);
    for (let l = 0; l < this.c.layers; l++) {
      const h = `h${l}.`;
      const ln1 = this.layernorm(x, `${h}ln1w`, `${h}ln1b`) as TF.Tensor2D;
      const qkv = this.linear(ln1, `${h}qkvw`, `${h}qkvb`);
      const heads = (k: number) =>
        tf.transpose(tf.reshape(tf.slice(qkv, [0, k * C], [N, C]), [B, T, NH, hs]), [0, 2, 1, 3]);
      const [q, kk, v] = [heads(0), heads(1), heads(2)];
      const scores = tf.add(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(hs)), mask);
      const y = tf.matMul(tf.softmax(scores), v);
      const atty = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [N, C]) as TF.Tensor2D;
      x = tf.add(x, this.linear(atty, `${h}attprojw`, `${h}attprojb`)) as TF.Tensor2D;
      const ln2 = this.layernorm(x, `${h}ln2w`, `${h}ln2b`) as TF.Tensor2D;
      const fch = this.gelu(this.linear(ln2, `${h}fcw`, `${h}fcb`)) as TF.Tensor2D;
      x = tf.add(x, this.linear(fch, `${h}fcprojw`, `${h}fcprojb`)) as TF.Tensor2D;
    }
    const lnf = this.layernorm(x, 'lnfw', 'lnfb') as TF.Tensor2D;
    const logits = this.linear(lnf, 'wte', null);
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), V);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), -1))) as TF.Scalar;
  }

  dispose(): void {
    for (const map of [this.vars, this.m, this.v]) for (const x of map.values()) x.dispose();
  }

  /** One step; returns the loss before the update, like the engine's trainStep. */
  async step(inputs: Int32Array, targets: Int32Array, B: number, T: number): Promise<number> {
    const tf = this.tf;
    const hp = this.hp;
    this.t++;
    const c1 = 1 - hp.beta1 ** this.t;
    const c2 = 1 - hp.beta2 ** this.t;
    const lossValue = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.loss(inputs, targets, B, T));
      const names = Object.keys(grads);
      // Pairwise adds, not addN: tfjs-backend-webgpu binds every addN input as a storage buffer, and one per
      // parameter tensor (28 in the tiny preset) is past WebGPU's default limit of 8 a stage; the pipeline
      // is then invalid and the "norm" reads whatever buffer it lands on (seen on SwiftShader, TF.js 4.22).
      const sumSq = names.map((n) => tf.sum(tf.square(grads[n]!))).reduce((a, b) => tf.add(a, b));
      const norm = tf.sqrt(sumSq);
      const scale = tf.minimum(1, tf.div(GRAD_CLIP, norm));
      for (const full of names) {
        const n = full.slice(this.prefix.length);
        const g = tf.mul(grads[full]!, scale);
        const p = this.p(n);
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        const mi = tf.add(tf.mul(hp.beta1, m), tf.mul(1 - hp.beta1, g));
        const vi = tf.add(tf.mul(hp.beta2, v), tf.mul(1 - hp.beta2, tf.square(g)));
        m.assign(mi);
        v.assign(vi);
        const upd = tf.add(tf.div(tf.div(mi, c1), tf.add(tf.sqrt(tf.div(vi, c2)), hp.eps)), tf.mul(hp.weightDecay, p));
        p.assign(tf.sub(p, tf.mul(hp.lr, upd)));
      }
      return value;
    });
    const out = (await lossValue.data())[0]!;
    lossValue.dispose();
    return out;
  }
}
