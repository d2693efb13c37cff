/**
 * The WebGPU training backend: every Kernels call encodes a dispatch over one storage buffer holding the
 * arena (plus an attention scratch), so encodeTrainStep becomes a single command buffer; trainStepGpu
 * then reads the loss slot back. WGSL per layer kind in wgsl/, params.wgsl prepended to each.
 */
import {
  type AdamWHyper,
  type Arena,
  type Batch,
  encodeForward,
  encodeTrainStep,
  type GptConfig,
  type Kernels,
  LAYERNORM_EPS,
  loadBatch,
  SCALAR_LOSS,
} from '@shared/train';
import { GpuMatmul } from './matmul';
import adamwWgsl from './wgsl/adamw.wgsl?raw';
import attentionWgsl from './wgsl/attention.wgsl?raw';
import crossentropyWgsl from './wgsl/crossentropy.wgsl?raw';
import embeddingWgsl from './wgsl/embedding.wgsl?raw';
import layernormWgsl from './wgsl/layernorm.wgsl?raw';
import paramsWgsl from './wgsl/params.wgsl?raw';
import pointwiseWgsl from './wgsl/pointwise.wgsl?raw';

/** params.wgsl's WG. */
const WG = 64;

type Pipes = Record<string, GPUComputePipeline>;

function args(slots: number[], sizes: number[] = [], floats: number[] = []): ArrayBuffer {
  const b = new ArrayBuffer(128);
  const u = new Uint32Array(b);
  const f = new Float32Array(b);
  slots.forEach((x, k) => (u[k] = x));
  sizes.forEach((x, k) => (u[8 + k] = x));
  floats.forEach((x, k) => (f[16 + k] = x));
  return b;
}

class WebGpuKernels implements Kernels {
  constructor(
    private readonly gpu: GpuMatmul,
    private readonly pipes: Pipes,
    /** Slot of the attention scratch (B·NH·T·T floats) past the arena. */
    private readonly dpre: number,
  ) {}

  private each(name: string, items: number, a: ArrayBuffer) {
    const [x, y] = GpuMatmul.groups(items, WG);
    this.gpu.run(this.pipes[name]!, a, x, y);
  }

  encoderForward(out: number, tokens: number, wte: number, wpe: number, B: number, T: number, C: number) {
    this.each('embedding.forward', B * T * C, args([out, tokens, wte, wpe], [B * T, T, C]));
  }
  encoderBackward(dwte: number, dwpe: number, dout: number, tokens: number, B: number, T: number, C: number) {
    this.each('embedding.backward', C, args([dwte, dwpe, dout, tokens], [B * T, T, C]));
  }
  layernormForward(out: number, mean: number, rstd: number, inp: number, w: number, b: number, N: number, C: number) {
    this.each('layernorm.forward', N, args([out, mean, rstd, inp, w, b], [N, C], [LAYERNORM_EPS]));
  }
  layernormBackward(
    dinp: number,
    dw: number,
    db: number,
    dout: number,
    inp: number,
    w: number,
    mean: number,
    rstd: number,
    N: number,
    C: number,
  ) {
    const a = args([dinp, dw, db, dout, inp, w, mean, rstd], [N, C]);
    this.each('layernorm.backwardInput', N, a);
    this.each('layernorm.backwardParams', C, a);
  }
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number) {
    this.gpu.matmulForward(out, inp, w, bias, N, Cin, Cout);
  }
  matmulBackward(
    dinp: number,
    dw: number,
    dbias: number,
    dout: number,
    inp: number,
    w: number,
    N: number,
    Cin: number,
    Cout: number,
  ) {
    this.gpu.matmulBackward(dinp, dw, dbias, dout, inp, w, N, Cin, Cout);
  }
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number) {
    this.each('attention.forward', B * NH * T, args([out, att, qkv], [B, T, C, NH]));
  }
  attentionBackward(dqkv: number, dout: number, qkv: number, att: number, B: number, T: number, C: number, NH: number) {
    const a = args([dqkv, dout, qkv, att, this.dpre], [B, T, C, NH]);
    this.each('attention.backwardQuery', B * NH * T, a);
    this.each('attention.backwardKeyValue', B * NH * T, a);
  }
  geluForward(out: number, inp: number, n: number) {
    this.each('pointwise.geluForward', n, args([out, inp], [n]));
  }
  geluBackward(dinp: number, inp: number, dout: number, n: number) {
    this.each('pointwise.geluBackward', n, args([dinp, inp, dout], [n]));
  }
  residualForward(out: number, a: number, b: number, n: number) {
    this.each('pointwise.residualForward', n, args([out, a, b], [n]));
  }
  residualBackward(da: number, db: number, dout: number, n: number) {
    this.each('pointwise.residualBackward', n, args([da, db, dout], [n]));
  }
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number) {
    this.each('crossentropy.forward', N, args([losses, probs, logits, targets], [N, V]));
  }
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number) {
    this.each('crossentropy.backward', N * V, args([dlogits, probs, 0, targets], [N, V]));
  }
  zero(at: number, n: number) {
    this.each('pointwise.zero', n, args([at], [n]));
  }
  meanInto(dst: number, at: number, n: number) {
    this.gpu.run(this.pipes['adamw.meanInto']!, args([dst, at], [n]), 1);
  }
  clipAdamw(
    params: number,
    grads: number,
    m: number,
    v: number,
    n: number,
    hp: AdamWHyper,
    t: number,
    maxNorm: number,
    norm: number,
  ) {
    this.gpu.run(this.pipes['adamw.gradNorm']!, args([grads, norm], [n]), 1);
    const hyper = [hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, 1 - hp.beta1 ** t, 1 - hp.beta2 ** t, maxNorm];
    this.each('adamw.update', n, args([params, grads, m, v, norm], [n], hyper));
  }
}

const SOURCES: Record<string, string> = {
  embedding: embeddingWgsl,
  layernorm: layernormWgsl,
  attention: attentionWgsl,
  pointwise: pointwiseWgsl,
  crossentropy: crossentropyWgsl,
  adamw: adamwWgsl,
};

const ENTRIES: Record<string, string[]> = {
  embedding: ['forward', 'backward'],
  layernorm: ['forward', 'backwardInput', 'backwardParams'],
  attention: ['forward', 'backwardQuery', 'backwardKeyValue'],
  pointwise: ['geluForward', 'geluBackward', 'residualForward', 'residualBackward', 'zero'],
  crossentropy: ['forward', 'backward'],
  adamw: ['meanInto', 'gradNorm', 'update'],
};

/** The GPU step's Backend. readFloats is synchronous in the interface, so reads go through readAsync. */
export class WebGpuBackend {
  readonly name = 'webgpu';

  private constructor(
    readonly arena: Arena,
    readonly gpu: GpuMatmul,
    readonly kernels: Kernels,
  ) {}

  static async create(arena: Arena, gpu?: GPU): Promise<WebGpuBackend> {
    const c = arena.config as GptConfig;
    const scratch = c.kind === 'gpt' ? arena.B * c.heads * arena.T * arena.T : 0;
    const g = await GpuMatmul.create(arena.size + scratch, gpu);
    const pipes: Pipes = {};
    for (const [file, entries] of Object.entries(ENTRIES)) {
      const module = g.device.createShaderModule({ code: paramsWgsl + SOURCES[file]! });
      for (const entryPoint of entries)
        pipes[`${file}.${entryPoint}`] = g.device.createComputePipeline({
          layout: 'auto',
          compute: { module, entryPoint },
        });
    }
    return new WebGpuBackend(arena, g, new WebGpuKernels(g, pipes, arena.size));
  }

  writeFloats(at: number, data: ArrayLike<number>): void {
    this.gpu.write(at, Float32Array.from(data));
  }
  writeInts(at: number, data: ArrayLike<number>): void {
    const i = Int32Array.from(data);
    this.gpu.write(at, new Float32Array(i.buffer));
  }
  /** The Backend interface's synchronous read cannot exist on a GPU. */
  readFloats(): Float64Array {
    throw new Error('WebGpuBackend reads are asynchronous: use readAsync');
  }
  async readAsync(at: number, n: number): Promise<Float32Array> {
    return this.gpu.read(at, n);
  }
  destroy(): void {
    this.gpu.destroy();
  }
}

/** Validation loss on the GPU: the forward in one command buffer, then the loss slot. */
export async function evalLossGpu(b: WebGpuBackend, batch: Batch): Promise<number> {
  loadBatch(b, batch);
  encodeForward(b);
  b.gpu.flush();
  return (await b.readAsync(b.arena.scalarsAt + SCALAR_LOSS, 1))[0]!;
}

/** One training step on the GPU: the shared step's kernel list in one command buffer, then the loss. */
export async function trainStepGpu(b: WebGpuBackend, batch: Batch, hp: AdamWHyper, t: number): Promise<number> {
  loadBatch(b, batch);
  encodeTrainStep(b, hp, t);
  b.gpu.flush();
  return (await b.readAsync(b.arena.scalarsAt + SCALAR_LOSS, 1))[0]!;
}
