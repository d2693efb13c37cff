// Causal multi-head attention over packed qkv (B, T, 3C). n0=B n1=T n2=C n3=NH; one invocation per
// (b, h, t) query row: i = (b·NH + h)·T + t.

fn rowOf(i: u32) -> vec3u {
  let T = p.n1;
  let NH = p.n3;
  return vec3u(i / (NH * T), (i / T) % NH, i % T);
}

// a=out b=att c=qkv
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  let T = p.n1;
  let C = p.n2;
  let NH = p.n3;
  if (i >= p.n0 * NH * T) { return; }
  let r = rowOf(i);
  let b = r.x; let h = r.y; let t = r.z;
  let hs = C / NH;
  let scale = 1.0 / sqrt(f32(hs));
  let q = p.c + (b * T + t) * 3u * C + h * hs;
  let a = p.b + i * T;
  var mx = -3.0e38;
  for (var t2 = 0u; t2 <= t; t2++) {
    let k = p.c + (b * T + t2) * 3u * C + C + h * hs;
    var s = 0.0;
    for (var j = 0u; j < hs; j++) { s += buf[q + j] * buf[k + j]; }
    s *= scale;
    buf[a + t2] = s;
    mx = max(mx, s);
  }
  var sum = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) { let e = exp(buf[a + t2] - mx); buf[a + t2] = e; sum += e; }
  for (var t2 = 0u; t2 < T; t2++) {
    if (t2 <= t) { buf[a + t2] = buf[a + t2] / sum; } else { buf[a + t2] = 0.0; }
  }
  let o = p.a + (b * T + t) * C + h * hs;
  for (var j = 0u; j < hs; j++) {
    var acc = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) { acc += buf[a + t2] * buf[p.c + (b * T + t2) * 3u * C + 2u * C + h * hs + j]; }
    buf[o + j] = acc;
  }
}

// Pass 1 per query row: dpre = att · (datt − Σ att·datt) · scale into the scratch e, and dq += dpre · k.
// a=dqkv b=dout c=qkv d=att e=dpre
@compute @workgroup_size(WG)
fn backwardQuery(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  let T = p.n1;
  let C = p.n2;
  let NH = p.n3;
  if (i >= p.n0 * NH * T) { return; }
  let r = rowOf(i);
  let b = r.x; let h = r.y; let t = r.z;
  let hs = C / NH;
  let scale = 1.0 / sqrt(f32(hs));
  let a = p.d + i * T;
  let dp = p.e + i * T;
  let d = p.b + (b * T + t) * C + h * hs;
  var dot = 0.0;
  for (var t2 = 0u; t2 <= t; t2++) {
    let v = p.c + (b * T + t2) * 3u * C + 2u * C + h * hs;
    var s = 0.0;
    for (var j = 0u; j < hs; j++) { s += buf[d + j] * buf[v + j]; }
    buf[dp + t2] = s;
    dot += buf[a + t2] * s;
  }
  for (var t2 = 0u; t2 <= t; t2++) { buf[dp + t2] = buf[a + t2] * (buf[dp + t2] - dot) * scale; }
  let dq = p.a + (b * T + t) * 3u * C + h * hs;
  for (var j = 0u; j < hs; j++) {
    var acc = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) { acc += buf[dp + t2] * buf[p.c + (b * T + t2) * 3u * C + C + h * hs + j]; }
    buf[dq + j] += acc;
  }
}

// Pass 2 per key row t2: dk += Σ_{t ≥ t2} dpre[t, t2] · q[t], dv += Σ_{t ≥ t2} att[t, t2] · dout[t].
@compute @workgroup_size(WG)
fn backwardKeyValue(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flat(id, nw);
  let T = p.n1;
  let C = p.n2;
  let NH = p.n3;
  if (i >= p.n0 * NH * T) { return; }
  let r = rowOf(i);
  let b = r.x; let h = r.y; let t2 = r.z;
  let hs = C / NH;
  let base = (b * NH + h) * T;
  let dk = p.a + (b * T + t2) * 3u * C + C + h * hs;
  let dv = dk + C;
  for (var j = 0u; j < hs; j++) {
    var ak = 0.0;
    var av = 0.0;
    for (var t = t2; t < T; t++) {
      ak += buf[p.e + (base + t) * T + t2] * buf[p.c + (b * T + t) * 3u * C + h * hs + j];
      av += buf[p.d + (base + t) * T + t2] * buf[p.b + (b * T + t) * C + h * hs + j];
    }
    buf[dk + j] += ak;
    buf[dv + j] += av;
  }
}
