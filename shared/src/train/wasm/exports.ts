/** What shared/assembly/train.ts exports: byte addresses and sizes in, nothing out but two sums. */
export interface Exports {
  /** Scratch bytes one thread's matmuls and attention need (`pack` and `scratch` below). */
  readonly SCRATCH_BYTES: WebAssembly.Global;
  matmulForward(out: number, inp: number, w: number, bias: number, N: number, Cin: number, Cout: number): void;
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
    pack: number,
  ): void;
  encoderForward(out: number, tokens: number, wte: number, wpe: number, B: number, T: number, C: number): void;
  encoderBackward(dwte: number, dwpe: number, dout: number, tokens: number, B: number, T: number, C: number): void;
  layernormForward(
    out: number,
    mean: number,
    rstd: number,
    inp: number,
    w: number,
    b: number,
    N: number,
    C: number,
  ): void;
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
  ): void;
  matmulBackwardInput(dinp: number, dout: number, w: number, N: number, Cin: number, Cout: number, pack: number): void;
  matmulBackwardWeight(
    dw: number,
    dbias: number,
    dout: number,
    inp: number,
    N: number,
    Cin: number,
    Cout: number,
    doutStride: number,
    pack: number,
  ): void;
  attentionForward(
    out: number,
    att: number,
    qkv: number,
    B: number,
    T: number,
    C: number,
    NH: number,
    h0: number,
    h1: number,
    scratch: number,
  ): void;
  attentionBackward(
    dqkv: number,
    dout: number,
    qkv: number,
    att: number,
    B: number,
    T: number,
    C: number,
    NH: number,
    h0: number,
    h1: number,
    scratch: number,
  ): void;
  geluForward(out: number, inp: number, n: number): void;
  geluBackward(dinp: number, inp: number, dout: number, n: number): void;
  residualForward(out: number, a: number, b: number, n: number): void;
  residualBackward(da: number, db: number, dout: number, n: number): void;
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number): void;
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number): void;
  crossentropyBackwardWeighted(
    dlogits: number,
    probs: number,
    targets: number,
    dlosses: number,
    N: number,
    V: number,
  ): void;
  /** Σ x² (f64) of each `chunk` values into consecutive f64s at dst. */
  sumSquaresChunks(dst: number, at: number, n: number, chunk: number): void;
  sumOf(at: number, n: number): number;
  /** hp: f32s lr, β1, β2, eps, weight decay, 1 − β1^t, 1 − β2^t, gradient scale. */
  adamw(p: number, g: number, m: number, v: number, n: number, hp: number): void;
  zero(at: number, n: number): void;
}
