// Elementwise layers: GELU (tanh form) and the residual add. n0 = elements.

const GELU_SCALE: f32 = 0.7978845608028654;
const GELU_CUBE: f32 = 0.044715;

// a=out b=inp
@compute @workgroup_size(WG)
fn geluForward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  let x = buf[p.b + i];
  buf[p.a + i] = 0.5 * x * (1.0 + tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x)));
}

// a=dinp b=inp c=dout
@compute @workgroup_size(WG)
fn geluBackward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  let x = buf[p.b + i];
  let th = tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x));
  let g = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * GELU_SCALE * (1.0 + 3.0 * GELU_CUBE * x * x);
  buf[p.a + i] += g * buf[p.c + i];
}

// a=out b=x c=y
@compute @workgroup_size(WG)
fn residualForward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  buf[p.a + i] = buf[p.b + i] + buf[p.c + i];
}

// a=dx b=dy c=dout
@compute @workgroup_size(WG)
fn residualBackward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  let g = buf[p.c + i];
  buf[p.a + i] += g;
  buf[p.b + i] += g;
}

// a=at
@compute @workgroup_size(WG)
fn zero(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  buf[p.a + i] = 0.0;
}
