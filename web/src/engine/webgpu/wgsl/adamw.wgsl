// The update: mean loss, global gradient norm, clipped AdamW. x0=lr x1=β1 x2=β2 x3=eps x4=weight decay
// x5=1−β1^t x6=1−β2^t x7=max norm.

// One invocation: a=dst b=at, n0=count.
@compute @workgroup_size(1)
fn meanInto() {
  var s = 0.0;
  for (var i = 0u; i < p.n0; i++) { s += buf[p.b + i]; }
  buf[p.a] = s / f32(p.n0);
}

var<workgroup> partial: array<f32, WG>;

// One workgroup: a=grads b=norm slot, n0=count. Strided partial sums, then a tree in workgroup memory.
@compute @workgroup_size(WG)
fn gradNorm(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = l; i < p.n0; i += WG) { let g = buf[p.a + i]; s += g * g; }
  partial[l] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { partial[l] += partial[l + w]; }
    workgroupBarrier();
  }
  if (l == 0u) { buf[p.b] = sqrt(partial[0]); }
}

// a=params b=grads c=m d=v e=norm slot, n0=count.
@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0) { return; }
  let norm = buf[p.e];
  var scale = 1.0;
  if (norm > p.x7) { scale = p.x7 / norm; }
  let g = buf[p.b + i] * scale;
  let m = p.x1 * buf[p.c + i] + (1.0 - p.x1) * g;
  let v = p.x2 * buf[p.d + i] + (1.0 - p.x2) * g * g;
  buf[p.c + i] = m;
  buf[p.d + i] = v;
  let w = buf[p.a + i];
  buf[p.a + i] = w - p.x0 * ((m / p.x5) / (sqrt(v / p.x6) + p.x3) + p.x4 * w);
}
