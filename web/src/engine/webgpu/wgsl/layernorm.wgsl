// LayerNorm, eps = x0 (1e-5). forward, one invocation per row: a=out b=mean c=rstd d=inp e=w f=b, n0=N n1=C.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = flat(id, nw);
  if (n >= p.n0) { return; }
  let C = p.n1;
  let x = p.d + n * C;
  var m = 0.0;
  for (var i = 0u; i < C; i++) { m += buf[x + i]; }
  m /= f32(C);
  var v = 0.0;
  for (var i = 0u; i < C; i++) { let d = buf[x + i] - m; v += d * d; }
  v /= f32(C);
  let s = 1.0 / sqrt(v + p.x0);
  for (var i = 0u; i < C; i++) { buf[p.a + n * C + i] = (buf[x + i] - m) * s * buf[p.e + i] + buf[p.f + i]; }
  buf[p.b + n] = m;
  buf[p.c + n] = s;
}

// dinp, one invocation per row: a=dinp d=dout e=inp f=w g=mean h=rstd.
@compute @workgroup_size(WG)
fn backwardInput(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = flat(id, nw);
  if (n >= p.n0) { return; }
  let C = p.n1;
  let m = buf[p.g + n];
  let s = buf[p.h + n];
  var m1 = 0.0;
  var m2 = 0.0;
  for (var i = 0u; i < C; i++) {
    let norm = (buf[p.e + n * C + i] - m) * s;
    let dnorm = buf[p.f + i] * buf[p.d + n * C + i];
    m1 += dnorm;
    m2 += dnorm * norm;
  }
  m1 /= f32(C);
  m2 /= f32(C);
  for (var i = 0u; i < C; i++) {
    let norm = (buf[p.e + n * C + i] - m) * s;
    let dnorm = buf[p.f + i] * buf[p.d + n * C + i];
    buf[p.a + n * C + i] += (dnorm - m1 - norm * m2) * s;
  }
}

// dw and db, one invocation per channel over the rows: b=dw c=db d=dout e=inp g=mean h=rstd.
@compute @workgroup_size(WG)
fn backwardParams(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= p.n1) { return; }
  let C = p.n1;
  var dw = 0.0;
  var db = 0.0;
  for (var n = 0u; n < p.n0; n++) {
    let d = buf[p.d + n * C + i];
    dw += (buf[p.e + n * C + i] - buf[p.g + n]) * buf[p.h + n] * d;
    db += d;
  }
  buf[p.b + i] += dw;
  buf[p.c + i] += db;
}
