// Token + position embedding. forward: a=out b=tokens c=wte d=wpe, n0=B·T n1=T n2=C.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0 * p.n2) { return; }
  let bt = i / p.n2;
  let c = i % p.n2;
  buf[p.a + i] = buf[p.c + token(p.b + bt) * p.n2 + c] + buf[p.d + (bt % p.n1) * p.n2 + c];
}

// Scatter-add, one invocation per channel walking the positions in order: no two invocations touch the
// same slot, and the sums come out in the same order every run. a=dwte b=dwpe c=dout d=tokens.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  let c = id.x;
  if (c >= p.n2) { return; }
  for (var bt = 0u; bt < p.n0; bt++) {
    let g = buf[p.c + bt * p.n2 + c];
    let w = p.a + token(p.d + bt) * p.n2 + c;
    buf[w] += g;
    let q = p.b + (bt % p.n1) * p.n2 + c;
    buf[q] += g;
  }
}
