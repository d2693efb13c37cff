/** Limits for user uploads, checked before anything is allocated. */

/**
 * Largest tensor accepted from an upload (.npy or JSON): 512 MiB. A browser tab
 * must hold the tensor, its work-unit slices and the results at once; above
 * this Chromium tabs start failing allocations on 4–8 GiB machines.
 */
export const MAX_TENSOR_BYTES = 512 * 1024 * 1024;

/** Rank limit: ONNX models in practice use ≤ 6; 16 leaves room without unbounded loops. */
export const MAX_RANK = 16;

/**
 * npy header limit. numpy itself refuses headers over 10 000 bytes when loading
 * untrusted files (`max_header_size`), and a real header is < 200 bytes.
 */
export const MAX_NPY_HEADER_BYTES = 10_000;

/**
 * JSON input text limit: 64 MiB. JSON spends ~10–20 bytes per float, so this is
 * a few million values; larger inputs should be uploaded as .npy.
 */
export const MAX_JSON_CHARS = 64 * 1024 * 1024;

/**
 * Largest .onnx upload: 256 MiB. The model is sent whole to every provider over
 * WebRTC (~20–33 MB/s measured here) and held in each provider tab twice
 * (bytes + ort session); beyond this a unit's setup dwarfs its compute.
 */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024;

/**
 * safetensors header limit: 100 MB, the reference implementation's own cap (a header names each tensor
 * in ~80 bytes, so this is over a million tensors).
 */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;
