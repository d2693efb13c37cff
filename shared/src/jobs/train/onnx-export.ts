/**
 * A trained GPT as an ONNX model (opset 13) from the f32 master weights, so a batch-inference job on the
 * network can run it: `input_ids` int32 [batch, seq] (seq ≤ context) in, `logits` float32 [batch, seq,
 * vocab] out, the same maths as the engine's forward (gpt.ts): LayerNorm as mean / variance / rstd with
 * eps 1e-5, causal attention through an additive mask, GELU in its tanh form, the head tied to wte.
 * The tokenizer rides in the model's metadata (`tokenizer`), so prompts can be encoded and continuations
 * decoded beside it.
 */
import { encodeModel, floatInitializer, type GraphDefinition, node } from '../../models/onnx-builder';
import { DTYPE_TO_ONNX } from '../../tensor';
import type { OnnxTypes } from '../../tensor/onnx-proto';
import {
  type GptConfig,
  LAYERNORM_EPS,
  type Layout,
  paramLayout,
  type Tokenizer,
  tensorSpec,
  TrainConfigError,
} from '../../train';

/** −1e9 then exp: masked positions underflow to exactly 0, as the engine's softmax leaves them. */
const MASKED = -1e9;

function int64Initializer(name: string, dims: number[], values: number[]): OnnxTypes.ITensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: DTYPE_TO_ONNX.int64, rawData: new Uint8Array(data.buffer) };
}

function scalar(name: string, value: number): OnnxTypes.ITensorProto {
  return floatInitializer(name, [], Float32Array.of(value));
}

/** W [out, in] (the engine's layout: out = in · Wᵀ) as the [in, out] matrix ONNX MatMul wants. */
function transposed(params: Float32Array, layout: Layout, name: string): { dims: number[]; data: Float32Array } {
  const t = tensorSpec(layout, name);
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = params[t.offset + r * cols + c]!;
  return { dims: [cols, rows], data: out };
}

export function exportGptOnnx(
  config: GptConfig,
  params: Float32Array,
  tokenizer: { toJSON(): unknown },
  name = 'gpt',
): Uint8Array {
  const layout = paramLayout(config);
  if (params.length !== layout.size) throw new TrainConfigError('weights do not match the config');
  const C = config.width;
  const NH = config.heads;
  const hs = C / NH;
  const T = config.context;
  const inits: OnnxTypes.ITensorProto[] = [];
  const nodes: OnnxTypes.INodeProto[] = [];
  const raw = (n: string) => {
    const t = tensorSpec(layout, n);
    inits.push(floatInitializer(n, t.shape, params.slice(t.offset, t.offset + t.size)));
    return n;
  };
  const matT = (n: string) => {
    const m = transposed(params, layout, n);
    inits.push(floatInitializer(`${n}.T`, m.dims, m.data));
    return `${n}.T`;
  };
  const add = (op: string, inputs: string[], out: string, attrs: Parameters<typeof node>[3] = []) => {
    nodes.push(node(op, inputs, [out], attrs));
    return out;
  };

  inits.push(
    scalar('eps', LAYERNORM_EPS),
    scalar('one', 1),
    scalar('half', 0.5),
    scalar('gelu_scale', Math.sqrt(2 / Math.PI)),
    scalar('gelu_cube', 0.044715),
    scalar('att_scale', 1 / Math.sqrt(hs)),
    int64Initializer('i0', [], [0]),
    int64Initializer('i1', [], [1]),
    int64Initializer('i2', [], [2]),
    int64Initializer('s1', [1], [1]),
    int64Initializer('s2', [1], [2]),
    int64Initializer('zeros2', [2], [0, 0]),
    int64Initializer('axes01', [2], [0, 1]),
    int64Initializer('qkv_shape', [5], [0, 0, 3, NH, hs]),
    int64Initializer('y_shape', [3], [0, 0, C]),
  );
  const mask = new Float32Array(T * T);
  for (let t = 0; t < T; t++) for (let u = t + 1; u < T; u++) mask[t * T + u] = MASKED;
  inits.push(floatInitializer('causal_mask', [T, T], mask));

  // Positions 0..seq−1 and the [seq, seq] corner of the mask, from the input's shape.
  add('Shape', ['input_ids'], 'shape');
  add('Slice', ['shape', 's1', 's2'], 'seq1');
  add('Squeeze', ['seq1'], 'seq');
  add('Range', ['i0', 'seq', 'i1'], 'positions');
  add('Concat', ['seq1', 'seq1'], 'mask_end', [{ name: 'axis', int: 0 }]);
  add('Slice', ['causal_mask', 'zeros2', 'mask_end', 'axes01'], 'mask');

  add('Gather', [raw('wte'), 'input_ids'], 'tok_emb', [{ name: 'axis', int: 0 }]);
  add('Gather', [raw('wpe'), 'positions'], 'pos_emb', [{ name: 'axis', int: 0 }]);
  let x = add('Add', ['tok_emb', 'pos_emb'], 'encoded');

  const layernorm = (inp: string, w: string, b: string, out: string) => {
    add('ReduceMean', [inp], `${out}.mean`, [{ name: 'axes', ints: [-1] }]);
    add('Sub', [inp, `${out}.mean`], `${out}.d`);
    add('Mul', [`${out}.d`, `${out}.d`], `${out}.d2`);
    add('ReduceMean', [`${out}.d2`], `${out}.var`, [{ name: 'axes', ints: [-1] }]);
    add('Add', [`${out}.var`, 'eps'], `${out}.vareps`);
    add('Sqrt', [`${out}.vareps`], `${out}.std`);
    add('Div', ['one', `${out}.std`], `${out}.rstd`);
    add('Mul', [`${out}.d`, `${out}.rstd`], `${out}.norm`);
    add('Mul', [`${out}.norm`, raw(w)], `${out}.scaled`);
    return add('Add', [`${out}.scaled`, raw(b)], out);
  };
  const linear = (inp: string, w: string, b: string | null, out: string) => {
    if (b === null) return add('MatMul', [inp, matT(w)], out);
    add('MatMul', [inp, matT(w)], `${out}.mm`);
    return add('Add', [`${out}.mm`, raw(b)], out);
  };

  for (let l = 0; l < config.layers; l++) {
    const h = (n: string) => `h${l}.${n}`;
    const ln1 = layernorm(x, h('ln1w'), h('ln1b'), h('ln1'));
    const qkv = linear(ln1, h('qkvw'), h('qkvb'), h('qkv'));
    add('Reshape', [qkv, 'qkv_shape'], h('qkv5'));
    add('Transpose', [h('qkv5')], h('qkvT'), [{ name: 'perm', ints: [2, 0, 3, 1, 4] }]);
    add('Gather', [h('qkvT'), 'i0'], h('q'), [{ name: 'axis', int: 0 }]);
    add('Gather', [h('qkvT'), 'i1'], h('k'), [{ name: 'axis', int: 0 }]);
    add('Gather', [h('qkvT'), 'i2'], h('v'), [{ name: 'axis', int: 0 }]);
    add('Transpose', [h('k')], h('kT'), [{ name: 'perm', ints: [0, 1, 3, 2] }]);
    add('MatMul', [h('q'), h('kT')], h('scores'));
    add('Mul', [h('scores'), 'att_scale'], h('scaled'));
    add('Add', [h('scaled'), 'mask'], h('masked'));
    add('Softmax', [h('masked')], h('att'), [{ name: 'axis', int: -1 }]);
    add('MatMul', [h('att'), h('v')], h('yh'));
    add('Transpose', [h('yh')], h('yt'), [{ name: 'perm', ints: [0, 2, 1, 3] }]);
    add('Reshape', [h('yt'), 'y_shape'], h('atty'));
    const proj = linear(h('atty'), h('attprojw'), h('attprojb'), h('attproj'));
    const r2 = add('Add', [x, proj], h('residual2'));
    const ln2 = layernorm(r2, h('ln2w'), h('ln2b'), h('ln2'));
    const fc = linear(ln2, h('fcw'), h('fcb'), h('fch'));
    add('Mul', [fc, fc], h('fc2'));
    add('Mul', [h('fc2'), fc], h('fc3'));
    add('Mul', [h('fc3'), 'gelu_cube'], h('fc3c'));
    add('Add', [fc, h('fc3c')], h('inner'));
    add('Mul', [h('inner'), 'gelu_scale'], h('inner_s'));
    add('Tanh', [h('inner_s')], h('tanh'));
    add('Add', [h('tanh'), 'one'], h('tanh1'));
    add('Mul', [fc, h('tanh1')], h('xt'));
    const gelu = add('Mul', [h('xt'), 'half'], h('gelu'));
    const fcproj = linear(gelu, h('fcprojw'), h('fcprojb'), h('fcproj'));
    x = add('Add', [r2, fcproj], h('residual3'));
  }
  const lnf = layernorm(x, 'lnfw', 'lnfb', 'lnf');
  linear(lnf, 'wte', null, 'logits');

  const graph: GraphDefinition = {
    name,
    inputs: [{ name: 'input_ids', dtype: 'int32', dims: ['batch', 'seq'] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: ['batch', 'seq', config.vocab] }],
    nodes,
    initializers: inits,
    metadata: { tokenizer: JSON.stringify(tokenizer.toJSON()), config: JSON.stringify(config) },
  };
  return encodeModel(graph);
}
