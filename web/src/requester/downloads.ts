/** Results as files a requester can take away: .npy per output (NumPy's own format) and one JSON for everything. */
import { tensorFromRaw, type RawTensor } from '@shared/protocol';
import { writeNpy } from '@shared/tensor';

export function outputAsNpy(output: RawTensor): Blob {
  return new Blob([writeNpy(tensorFromRaw(output)) as BlobPart], { type: 'application/octet-stream' });
}

export function outputsAsJson(jobId: string, outputs: readonly RawTensor[]): Blob {
  const body = {
    job: jobId,
    outputs: Object.fromEntries(
      outputs.map((o) => {
        const t = tensorFromRaw(o);
        return [
          o.name,
          {
            dtype: o.dtype,
            dims: o.dims,
            data: Array.from(t.data as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? x.toString() : x)),
          },
        ];
      }),
    ),
  };
  return new Blob([JSON.stringify(body)], { type: 'application/json' });
}
