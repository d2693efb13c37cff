// Pass 3: every changed element writes its index to groupOffset + localOffset,
// so the output is the changed positions in ascending order.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read> localOffset: array<u32>;
@group(0) @binding(4) var<storage, read> groupOffset: array<u32>;
@group(0) @binding(5) var<storage, read_write> positions: array<u32>;

fn changed(i: u32) -> bool {
  if (i >= params.n) { return false; }
  if (params.halfWords == 1u) {
    let w = i >> 1u;
    let shift = (i & 1u) * 16u;
    return (((a[w] ^ b[w]) >> shift) & 0xffffu) != 0u;
  }
  return a[i] != b[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * params.groupsX;
  let i = group * WG + lid;
  if (changed(i)) {
    positions[groupOffset[group] + localOffset[i]] = i;
  }
}
