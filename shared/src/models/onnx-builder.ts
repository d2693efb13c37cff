/** Just enough of an ONNX graph builder for the built-in models. */
import { onnx, type OnnxTypes } from '../tensor/onnx-proto';
import { DTYPE_TO_ONNX } from '../tensor/onnx-model';
import type { TensorSpec } from '../tensor/types';

/**
 * Opset 13 (ONNX 1.8, 2020): every op we use has its current semantics there
 * (Softmax over one axis), and every onnxruntime-web since 1.8 runs it.
 * IR version 7 is the one that goes with opset 13.
 */
export const OPSET = 13;
export const IR_VERSION = 7;
const PRODUCER = 'browser-compute-network';

export function floatInitializer(name: string, dims: readonly number[], values: Float32Array): OnnxTypes.ITensorProto {
  return {
    name,
    dims: [...dims],
    dataType: DTYPE_TO_ONNX.float32,
    rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
  };
}

export type Attribute =
  | { name: string; int: number }
  | { name: string; ints: number[] }
  | { name: string; float: number };

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Attribute[] = [],
): OnnxTypes.INodeProto {
  return {
    opType,
    name: `${opType}_${outputs[0] ?? ''}`,
    input: inputs,
    output: outputs,
    attribute: attributes.map((a) =>
      'int' in a
        ? { name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.int }
        : 'float' in a
          ? { name: a.name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.float }
          : { name: a.name, type: onnx.AttributeProto.AttributeType.INTS, ints: a.ints },
    ),
  };
}

function valueInfo(spec: TensorSpec): OnnxTypes.IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: DTYPE_TO_ONNX[spec.dtype],
        shape: { dim: spec.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface GraphDefinition {
  name: string;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  nodes: OnnxTypes.INodeProto[];
  initializers: OnnxTypes.ITensorProto[];
  /** The default domain's opset; OPSET unless a test needs an old export. */
  opset?: number;
  /** ModelProto.metadata_props (e.g. a trained model's tokenizer); absent leaves the bytes as before. */
  metadata?: Record<string, string>;
}

/** Serialises a graph to .onnx bytes; the same definition always gives the same bytes. */
export function encodeModel(graph: GraphDefinition): Uint8Array {
  const model: OnnxTypes.IModelProto = {
    irVersion: IR_VERSION,
    producerName: PRODUCER,
    producerVersion: '1',
    opsetImport: [{ domain: '', version: graph.opset ?? OPSET }],
    ...(graph.metadata
      ? { metadataProps: Object.entries(graph.metadata).map(([key, value]) => ({ key, value })) }
      : {}),
    graph: {
      name: graph.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}
