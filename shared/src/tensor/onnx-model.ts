/** Validation of an uploaded `.onnx` file: what it is, what it takes, what it returns. */
import { MAX_MODEL_BYTES } from './constants';
import { OnnxModelError } from './errors';
import { onnx, toNumber, type OnnxTypes } from './onnx-proto';
import { formatBytes } from './tensor';
import type { Dim, DType, TensorSpec } from './types';

/** ONNX TensorProto.DataType → our dtype, for the ones onnxruntime-web and we both handle. */
const ONNX_TO_DTYPE: Partial<Record<number, DType>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  6: 'int32',
  7: 'int64',
  11: 'float64',
};
const ONNX_TYPE_NAMES: Record<number, string> = {
  0: 'undefined',
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};
export const DTYPE_TO_ONNX: Record<DType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float64: 11 };

export interface OnnxModelInfo {
  inputs: TensorSpec[];
  /** Outputs may have dtypes we cannot take as inputs; the name is what matters. */
  outputs: { name: string; dtype: DType | string; dims: Dim[] }[];
  /** Version of the default ("ai.onnx") operator set. */
  opset: number;
  irVersion: number;
  producer: string;
  nodeCount: number;
  sizeBytes: number;
}

export function inspectOnnxModel(bytes: Uint8Array, maxBytes = MAX_MODEL_BYTES): OnnxModelInfo {
  if (bytes.length > maxBytes) {
    throw new OnnxModelError(
      'too-large',
      `model is ${formatBytes(bytes.length)}, over the ${formatBytes(maxBytes)} limit; quantize or prune it first`,
    );
  }
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    throw notOnnx();
  }
  const graph = model.graph;
  const irVersion = toNumber(model.irVersion);
  const defaultOpset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  // Random bytes sometimes decode as a protobuf; a real model always has these.
  if (!graph || irVersion < 3 || irVersion > 100 || !defaultOpset || !graph.node?.length) throw notOnnx();
  const initializerList = graph.initializer ?? [];

  if (initializerList.some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)) {
    throw new OnnxModelError(
      'external-data',
      'model keeps its weights in external data files; save it as a single .onnx (onnx.save(model, path, save_as_external_data=False))',
    );
  }
  const initializers = new Set(initializerList.map((t) => t.name ?? ''));
  const inputs: TensorSpec[] = [];
  for (const vi of graph.input ?? []) {
    const name = vi.name ?? '';
    if (initializers.has(name)) continue; // IR < 4 lists weights as inputs too
    const { elemType, dims } = readType(vi, 'input');
    const dtype = ONNX_TO_DTYPE[elemType];
    if (!dtype) {
      throw new OnnxModelError(
        'unsupported-dtype',
        `input "${name}" has type ${ONNX_TYPE_NAMES[elemType] ?? elemType}; supported input types are float32, float64, int32, int64, int8, uint8`,
      );
    }
    inputs.push({ name, dtype, dims });
  }
  if (inputs.length === 0)
    throw new OnnxModelError(
      'no-inputs',
      'model has no inputs (all are constants); export it with at least one graph input',
    );
  const graphOutputs = graph.output ?? [];
  if (graphOutputs.length === 0) throw new OnnxModelError('no-outputs', 'model has no outputs');
  const outputs = graphOutputs.map((vi) => {
    const { elemType, dims } = readType(vi, 'output');
    return {
      name: vi.name ?? '',
      dtype: ONNX_TO_DTYPE[elemType] ?? ONNX_TYPE_NAMES[elemType] ?? String(elemType),
      dims,
    };
  });
  return {
    inputs,
    outputs,
    opset: toNumber(defaultOpset.version),
    irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    nodeCount: graph.node.length,
    sizeBytes: bytes.length,
  };
}

function notOnnx(): OnnxModelError {
  return new OnnxModelError(
    'not-onnx',
    'this file is not an ONNX model; export one with torch.onnx.export or tf2onnx and upload the .onnx file',
  );
}

function readType(vi: OnnxTypes.IValueInfoProto, what: string): { elemType: number; dims: Dim[] } {
  const tensorType = vi.type?.tensorType;
  if (!tensorType)
    throw new OnnxModelError(
      'unsupported-dtype',
      `${what} "${vi.name}" is not a tensor (sequences and maps are not supported)`,
    );
  const dims: Dim[] = (tensorType.shape?.dim ?? []).map((d) => {
    if (d.dimParam) return d.dimParam;
    const value = toNumber(d.dimValue);
    return value > 0 ? value : '?';
  });
  return { elemType: tensorType.elemType ?? 0, dims };
}
