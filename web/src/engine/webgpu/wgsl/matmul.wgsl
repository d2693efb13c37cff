// Linear layers on WebGPU: one tiled GEMM over the arena buffer serves the forward and both gradient
// products, each described by strides (see matmul.ts), plus the bias gradient.
//   C[m, n] = (accumulate ? C[m, n] : 0) + bias[n] + Σ_k A[m, k] · B[k, n]
// A[m, k] sits at aOff + m·aRow + k·aCol, B[k, n] at bOff + k·bRow + n·bCol, C[m, n] at cOff + m·cRow + n.
// TILE comes from the adapter's limits (matmul.ts); each workgroup computes a TILE × TILE block of C,
// staging TILE × TILE tiles of A and B in workgroup memory.

struct Gemm {
  M: u32, N: u32, K: u32, aOff: u32,
  aRow: u32, aCol: u32, bOff: u32, bRow: u32,
  bCol: u32, cOff: u32, cRow: u32, accumulate: u32,
  biasOff: u32, _p0: u32, _p1: u32, _p2: u32,
}

const NO_BIAS: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read_write> buf: array<f32>;
@group(0) @binding(1) var<uniform> g: Gemm;

override TILE: u32 = 16u;

var<workgroup> As: array<f32, TILE * TILE>;
var<workgroup> Bs: array<f32, TILE * TILE>;

@compute @workgroup_size(TILE, TILE)
fn gemm(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let row = wg.y * TILE + l.y;
  let col = wg.x * TILE + l.x;
  var acc = 0.0;
  let tiles = (g.K + TILE - 1u) / TILE;
  for (var t = 0u; t < tiles; t++) {
    let ka = t * TILE + l.x;
    var a = 0.0;
    if (row < g.M && ka < g.K) { a = buf[g.aOff + row * g.aRow + ka * g.aCol]; }
    As[l.y * TILE + l.x] = a;
    let kb = t * TILE + l.y;
    var b = 0.0;
    if (kb < g.K && col < g.N) { b = buf[g.bOff + kb * g.bRow + col * g.bCol]; }
    Bs[l.y * TILE + l.x] = b;
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) {
      acc += As[l.y * TILE + k] * Bs[k * TILE + l.x];
    }
    workgroupBarrier();
  }
  if (row < g.M && col < g.N) {
    let c = g.cOff + row * g.cRow + col;
    var v = acc;
    if (g.biasOff != NO_BIAS) { v += buf[g.biasOff + col]; }
    if (g.accumulate != 0u) { v += buf[c]; }
    buf[c] = v;
  }
}

// dbias[n] += Σ_m dout[m, n]: A is dout (aRow = its row length), C the bias gradient.
@compute @workgroup_size(64)
fn biasGrad(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x;
  if (n >= g.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < g.M; m++) { s += buf[g.aOff + m * g.aRow + n]; }
  buf[g.cOff + n] += s;
}
