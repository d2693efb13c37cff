/**
 * FLOPs per row of an uploaded ONNX model, read from its graph, so receipts for
 * bring-your-own models credit real work instead of 0. Counts the operators
 * that dominate cost: MatMul and Gemm (2·M·K·N, plus the bias) and Conv
 * (2·Cout·Cin/g·kernel per output pixel, plus the bias); elementwise and
 * pooling ops are not counted, so the figure errs low, never high. Shapes come
 * from the graph's declared inputs, value_info and initializers, carried
 * through the common shape-preserving ops; a node whose sizes are unknown
 * counts nothing. The leading (batch) dimension is one row.
 */
import { onnx, toNumber, type OnnxTypes } from './onnx-proto';

type Shape = (number | undefined)[];

/** Ops whose output has the first input's shape (elementwise, normalisation, activations). */
const SAME_SHAPE = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Softmax',
  'LogSoftmax',
  'Gelu',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Neg',
  'Abs',
  'Clip',
  'Dropout',
  'Identity',
  'Cast',
  'BatchNormalization',
  'LayerNormalization',
  'InstanceNormalization',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
]);

/** No more than a receipt can hold: a hostile graph's dims cannot overflow what it credits. */
const MAX_FLOPS = 2 ** 53 - 1;

function attr(n: OnnxTypes.INodeProto, name: string): OnnxTypes.IAttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}
const intAttr = (n: OnnxTypes.INodeProto, name: string, fallback: number) => {
  const a = attr(n, name);
  return a?.i !== undefined && a.i !== null ? toNumber(a.i) : fallback;
};
const intsAttr = (n: OnnxTypes.INodeProto, name: string): number[] | undefined =>
  attr(n, name)?.ints?.map((i) => toNumber(i));
const strAttr = (n: OnnxTypes.INodeProto, name: string): string => {
  const s = attr(n, name)?.s;
  return s ? new TextDecoder().decode(s) : '';
};

function declared(info: OnnxTypes.IValueInfoProto): Shape | undefined {
  const dims = info.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d, i) => {
    const value = d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : 0;
    if (value > 0) return value;
    return i === 0 ? 1 : undefined; // a named leading dim is the batch: one row
  });
}

const product = (dims: Shape) => dims.reduce<number>((p, d) => p * (d ?? 1), 1);

/** Output size of a sliding kernel (Conv, pooling) along each spatial axis. */
function windowed(n: OnnxTypes.INodeProto, input: Shape, kernel: number[]): Shape {
  const spatial = input.slice(2);
  const strides = intsAttr(n, 'strides') ?? kernel.map(() => 1);
  const dilations = intsAttr(n, 'dilations') ?? kernel.map(() => 1);
  const pads = intsAttr(n, 'pads') ?? kernel.map(() => 0).concat(kernel.map(() => 0));
  const autoPad = strAttr(n, 'auto_pad');
  return spatial.map((size, i) => {
    if (size === undefined) return undefined;
    const stride = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / stride);
    const pad = autoPad === 'VALID' ? 0 : (pads[i] ?? 0) + (pads[i + kernel.length] ?? 0);
    const reach = (dilations[i] ?? 1) * ((kernel[i] ?? 1) - 1) + 1;
    return Math.floor((size + pad - reach) / stride) + 1;
  });
}

/** FLOPs for one row, or undefined when the graph has no MatMul, Gemm or Conv whose sizes are known. */
export function estimateOnnxFlopsPerRow(bytes: Uint8Array): number | undefined {
  let graph: OnnxTypes.IGraphProto | null | undefined;
  try {
    graph = onnx.ModelProto.decode(bytes).graph;
  } catch {
    return undefined;
  }
  if (!graph) return undefined;
  const shapes = new Map<string, Shape>();
  for (const info of [...(graph.valueInfo ?? []), ...(graph.output ?? []), ...(graph.input ?? [])]) {
    const shape = info.name ? declared(info) : undefined;
    if (shape) shapes.set(info.name!, shape);
  }
  for (const t of graph.initializer ?? [])
    if (t.name)
      shapes.set(
        t.name,
        (t.dims ?? []).map((d) => toNumber(d)),
      );
  let total = 0;
  let counted = false;
  const count = (flops: number) => {
    if (!Number.isFinite(flops) || flops <= 0) return;
    total = Math.min(MAX_FLOPS, total + flops);
    counted = true;
  };
  for (const n of graph.node ?? []) {
    const ins = (n.input ?? []).map((name) => (name ? shapes.get(name) : undefined));
    const [a, b, c] = ins;
    let out: Shape | undefined;
    switch (n.opType) {
      case 'MatMul': {
        if (!a || !b || a.length < 1 || b.length < 2) break;
        const k = b[b.length - 2];
        const cols = b[b.length - 1];
        const outer = a.length > 1 ? a.slice(0, -1) : [];
        if (k !== undefined && cols !== undefined) count(2 * product(outer) * k * cols);
        out = [...outer, cols];
        break;
      }
      case 'Gemm': {
        if (!a || !b || a.length !== 2 || b.length !== 2) break;
        const [m, k] = intAttr(n, 'transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
        const cols = intAttr(n, 'transB', 0) ? b[0] : b[1];
        if (k !== undefined && cols !== undefined) count(2 * (m ?? 1) * k * cols + (c ? (m ?? 1) * cols : 0));
        out = [m, cols];
        break;
      }
      case 'Conv': {
        if (!a || !b || b.length < 3 || a.length !== b.length) break;
        const kernel = b.slice(2).map((d) => d ?? 1);
        const spatial = windowed(n, a, intsAttr(n, 'kernel_shape') ?? kernel);
        const [cout, cinPerGroup] = [b[0], b[1]];
        if (cout !== undefined && cinPerGroup !== undefined && spatial.every((d) => d !== undefined)) {
          const pixels = (a[0] ?? 1) * product(spatial);
          count(pixels * cout * (2 * cinPerGroup * product(kernel) + (c ? 1 : 0)));
        }
        out = [a[0], cout, ...spatial];
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const kernel = intsAttr(n, 'kernel_shape');
        if (a && kernel) out = [a[0], a[1], ...windowed(n, a, kernel)];
        break;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        if (a) out = [a[0], a[1], ...a.slice(2).map(() => 1)];
        break;
      case 'Flatten': {
        if (!a) break;
        const axis = intAttr(n, 'axis', 1);
        const at = axis < 0 ? a.length + axis : axis;
        const tail = a.slice(at);
        out = [product(a.slice(0, at)), tail.every((d) => d !== undefined) ? product(tail) : undefined];
        break;
      }
      case 'Transpose': {
        const perm = intsAttr(n, 'perm');
        if (a) out = (perm ?? a.map((_, i) => a.length - 1 - i)).map((i) => a[i]);
        break;
      }
      default:
        if (SAME_SHAPE.has(n.opType ?? '') && a) out = b && b.length > a.length ? b : a;
    }
    const name = n.output?.[0];
    if (name && out && !shapes.has(name)) shapes.set(name, out);
  }
  return counted ? Math.round(total) : undefined;
}
