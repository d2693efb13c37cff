/**
 * Results as files a requester can take away: .npy per output (NumPy's own
 * format, every value as computed) and one JSON for everything. JSON has no
 * NaN or infinity, so those are written as the strings "NaN", "Infinity" and
 * "-Infinity" (what pandas' read_json and JavaScript's Number() read back), and
 * the file says so; 64-bit integers are strings so no digit is lost.
 */
import { tensorFromRaw, type RawTensor } from '@shared/protocol';
import { writeNpy } from '@shared/tensor';

export function outputAsNpy(output: RawTensor): Blob {
  return new Blob([writeNpy(tensorFromRaw(output)) as BlobPart], { type: 'application/octet-stream' });
}

/** How the JSON download writes values JSON cannot hold; also stated inside the file. */
export const JSON_VALUE_NOTE =
  'non-finite floats are the strings "NaN", "Infinity" and "-Infinity"; int64 values are decimal strings';

function jsonValue(x: number | bigint): number | string {
  if (typeof x === 'bigint') return x.toString();
  return Number.isFinite(x) ? x : String(x);
}

export function outputsAsJson(jobId: string, outputs: readonly RawTensor[]): Blob {
  const body = {
    job: jobId,
    note: JSON_VALUE_NOTE,
    outputs: Object.fromEntries(
      outputs.map((o) => {
        const t = tensorFromRaw(o);
        return [
          o.name,
          {
            dtype: o.dtype,
            dims: o.dims,
            data: Array.from(t.data as ArrayLike<number | bigint>, jsonValue),
          },
        ];
      }),
    ),
  };
  return new Blob([JSON.stringify(body)], { type: 'application/json' });
}
