/**
 * onnxruntime's messages in words a PyTorch user knows, with a next step. The
 * raw message is always kept: the dashboard shows it under "details". Also
 * says whose fault an error is: one that blames the model or its input
 * repeats on every provider (the coordinator ends the job on it), one that
 * blames the provider's device does not.
 */

export interface ExplainedError {
  /** What went wrong, in plain words. */
  summary: string;
  /** What to do about it. */
  next: string;
  /** The message as onnxruntime (or the provider) wrote it. */
  raw: string;
  /** Whether the model or its input is at fault (every provider would fail the same way). */
  blamesModel: boolean;
  /** Whether the message was recognised; otherwise `summary` is the message itself. */
  known: boolean;
}

/** What a re-export that onnxruntime-web runs looks like; shown wherever an export is at fault. */
export const REEXPORT_HINT =
  "re-export with torch.onnx.export(model, args, 'model.onnx', opset_version=17, " +
  "input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}})";

interface Rule {
  test: RegExp;
  blamesModel: boolean;
  explain: (m: RegExpExecArray) => { summary: string; next: string };
}

/** First match wins: the specific rules before the general ones. */
const RULES: Rule[] = [
  {
    // ORT: "ONNX Runtime only *guarantees* support for models stamped with opset version 7 or above".
    test: /opset version (\d+) or above|opset (\d+)[^.]*(?:not supported|is under development)/i,
    blamesModel: true,
    explain: () => ({
      summary: 'the model was exported with an old ONNX opset (below 7) that onnxruntime-web cannot load',
      next: REEXPORT_HINT,
    }),
  },
  {
    // "Could not find an implementation for AveragePool(1) node with name ''"
    test: /Could not find an implementation for (\w+)\((\d+)\)/,
    blamesModel: true,
    explain: (m) => ({
      summary:
        Number(m[2]) < 7
          ? `the model uses ${m[1]} from ONNX opset ${m[2]}, older than onnxruntime-web supports (opset 7 or above)`
          : `onnxruntime-web has no ${m[1]} operator of version ${m[2]} (a newer or custom operator in the export)`,
      next: REEXPORT_HINT,
    }),
  },
  {
    // "Got invalid dimensions for input: x for the following indices index: 0 Got: 16 Expected: 20"
    test: /invalid dimensions for input: (\S+) for the following indices\s+index: (\d+) Got: (\d+) Expected: (\d+)/,
    blamesModel: true,
    explain: (m) => ({
      summary: `the model takes input "${m[1]}" with exactly ${m[4]} on axis ${m[2]} (its shape was fixed at export), but it was given ${m[3]}`,
      next:
        m[2] === '0'
          ? `use units of ${m[4]} rows, or ${REEXPORT_HINT} so any batch size works`
          : `give "${m[1]}" size ${m[4]} on axis ${m[2]}, or re-export with that axis in dynamic_axes`,
    }),
  },
  {
    // Gather: "indices element out of data bounds, idx=99 must be within the inclusive range [-10,9]"
    test: /indices element out of data bounds, idx=(-?\d+) must be within the inclusive range \[(-?\d+),(-?\d+)\]/,
    blamesModel: true,
    explain: (m) => ({
      summary: `an index in the input (${m[1]}) is outside the table the model looks it up in, which has ${Number(m[3]) + 1} entries (e.g. a token id at or above an embedding's size)`,
      next: `keep every index input between 0 and ${m[3]}, or re-export the model with a larger table`,
    }),
  },
  {
    // "Unexpected input data type. Actual: (tensor(double)) , expected: (tensor(float))"
    test: /Unexpected input data type\. Actual: \(tensor\((\w+)\)\) , expected: \(tensor\((\w+)\)\)/,
    blamesModel: true,
    explain: (m) => ({
      summary: `an input is ${torchType(m[1]!)} but the model takes ${torchType(m[2]!)}`,
      next: `convert the input to ${torchType(m[2]!)} (e.g. x.astype(np.${numpyType(m[2]!)})) before uploading it`,
    }),
  },
  {
    // element_wise_ops.h: "axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 3 by 4"
    test: /broadcast|axis == 1 \|\| axis == largest|Incompatible dimensions|shape mismatch|cannot reshape|requested shape/i,
    blamesModel: true,
    explain: () => ({
      summary:
        "the model's tensor shapes do not fit together for these inputs (an element-wise, MatMul or Reshape step got sizes that do not match)",
      next: 'check that each input has the shape the model was traced with (torch.onnx.export example inputs), or re-export with dynamic_axes for the axes that vary',
    }),
  },
  {
    test: /Can't create a session|failed to load model|Load model from|protobuf parsing failed|model_load_utils/i,
    blamesModel: true,
    explain: () => ({
      summary: 'onnxruntime-web could not load the model',
      next: `${REEXPORT_HINT}, saved as one file (no external data)`,
    }),
  },
  {
    // The provider's own trouble: its GPU, memory, worker, runtime download or model cache.
    test: /device (?:was )?lost|out of memory|OOM|GPUDevice|worker (?:crashed|stopped|was stopped)|compute worker|terminated|timed? ?out|did not start|disposed|could not start|no available backend|Aborted\(|not cached|vanished from the cache|no model for this job|not loaded in this worker/i,
    blamesModel: false,
    explain: () => ({
      summary: "the provider's device or browser failed while running the unit",
      next: 'nothing: the unit goes to another provider',
    }),
  },
];

/** "…/onnxruntime/core/providers/cpu/math/element_wise_ops.h:563 void …" → without the source locations. */
function withoutSourcePaths(raw: string): string {
  return raw
    .replace(/\S*onnxruntime\/core\/\S+:\d+\s*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const TORCH_TYPES: Record<string, string> = {
  float: 'float32',
  double: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  float16: 'float16',
};
const torchType = (onnxType: string) => TORCH_TYPES[onnxType] ?? onnxType;
const numpyType = (onnxType: string) => torchType(onnxType);

/** The error in plain words with a next step; unknown messages keep their own words, cleaned of source paths. */
export function explainModelError(raw: string): ExplainedError {
  for (const rule of RULES) {
    const m = rule.test.exec(raw);
    if (m) return { ...rule.explain(m), raw, blamesModel: rule.blamesModel, known: true };
  }
  const cleaned = withoutSourcePaths(raw);
  return {
    summary: cleaned.length > 300 ? `${cleaned.slice(0, 300)}…` : cleaned,
    next: 'check that the model runs in Python onnxruntime on the same inputs (onnxruntime.InferenceSession(path).run(None, feeds))',
    raw,
    blamesModel: true,
    known: false,
  };
}

/** Whether `error` says the model or its input is at fault, not the provider that reported it. */
export function blamesModel(error: string): boolean {
  return explainModelError(error).blamesModel;
}
