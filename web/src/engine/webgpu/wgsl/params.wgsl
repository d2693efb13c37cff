// Shared by every training kernel but the GEMM: the whole arena as one storage buffer, and the call's
// arguments (slot offsets a..h, sizes n0..n3, floats x0..x7). Prepended to each kernel file (kernels.ts).

struct Params {
  a: u32, b: u32, c: u32, d: u32,
  e: u32, f: u32, g: u32, h: u32,
  n0: u32, n1: u32, n2: u32, n3: u32,
  _p0: u32, _p1: u32, _p2: u32, _p3: u32,
  x0: f32, x1: f32, x2: f32, x3: f32,
  x4: f32, x5: f32, x6: f32, x7: f32,
}

@group(0) @binding(0) var<storage, read_write> buf: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

const WG: u32 = 64u;

// Flat invocation index over a 2-D dispatch (more than 65,535 workgroups of 64 need a second dimension).
fn flat(id: vec3u, nw: vec3u) -> u32 {
  return id.x + id.y * nw.x * WG;
}

fn token(at: u32) -> u32 {
  return u32(bitcast<i32>(buf[at]));
}
