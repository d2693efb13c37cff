// Softmax cross-entropy. forward, one invocation per row: a=losses b=probs c=logits d=targets, n0=N n1=V.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = flat(id, nw);
  if (n >= p.n0) { return; }
  let V = p.n1;
  let l = p.c + n * V;
  let q = p.b + n * V;
  var mx = -3.0e38;
  for (var i = 0u; i < V; i++) { mx = max(mx, buf[l + i]); }
  var sum = 0.0;
  for (var i = 0u; i < V; i++) { let e = exp(buf[l + i] - mx); buf[q + i] = e; sum += e; }
  for (var i = 0u; i < V; i++) { buf[q + i] = buf[q + i] / sum; }
  buf[p.a + n] = -log(buf[q + token(p.d + n)]);
}

// dlogits += (probs − onehot) / N, one invocation per element: a=dlogits b=probs d=targets.
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  if (i >= p.n0 * p.n1) { return; }
  let n = i / p.n1;
  var y = 0.0;
  if (i % p.n1 == token(p.d + n)) { y = 1.0; }
  buf[p.a + i] += (buf[p.b + i] - y) / f32(p.n0);
}
