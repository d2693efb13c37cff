/**
 * The kernel set every backend implements (JS reference, WASM, WebGPU). All
 * tensor arguments are slot offsets into the backend's one buffer (see
 * layout.ts); integer arguments are sizes. Backward kernels ACCUMULATE into
 * their gradient outputs, so a tensor used twice (the tied embedding, the
 * residual stream) sums its gradients; the step zeroes them first.
 * `NONE` stands for an absent bias.
 */

export const NONE = -1;

export interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export interface Kernels {
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
  ): void;
  attentionForward(out: number, att: number, qkv: number, B: number, T: number, C: number, NH: number): void;
  attentionBackward(
    dqkv: number,
    dout: number,
    qkv: number,
    att: number,
    B: number,
    T: number,
    C: number,
    NH: number,
  ): void;
  geluForward(out: number, inp: number, n: number): void;
  geluBackward(dinp: number, inp: number, dout: number, n: number): void;
  residualForward(out: number, a: number, b: number, n: number): void;
  residualBackward(da: number, db: number, dout: number, n: number): void;
  crossentropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number): void;
  crossentropyBackward(dlogits: number, probs: number, targets: number, N: number, V: number): void;
  /**
   * dlogits += dlosses[n] · (probs − onehot): the backward of Σ w_n · losses[n] with the weights in slots
   * dlosses. Optional: the JS and WASM backends have it, the WebGPU one not yet (gptBackward says so).
   */
  crossentropyBackwardWeighted?(
    dlogits: number,
    probs: number,
    targets: number,
    dlosses: number,
    N: number,
    V: number,
  ): void;
  /** Sets n slots to zero. */
  zero(at: number, n: number): void;
  /** Slot dst = the mean of n slots (the batch loss), left where the kernels run: no read-back mid-step. */
  meanInto(dst: number, at: number, n: number): void;
  /**
   * Clips the gradients' global norm at maxNorm and takes one AdamW step over n parameters (t counts
   * from 1); the norm before clipping goes to slot `norm`. One call, so a device backend keeps the whole
   * update on the device.
   */
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
  ): void;
}
