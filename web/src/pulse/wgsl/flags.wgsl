// Pass 1 of diff compaction: flag each element whose bit pattern differs, scan
// the flags inside the workgroup, keep each element's offset within its group
// and the group's count. 16-bit values are read two per u32 word
// (little-endian: element 2k is the low half of word k).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> localOffset: array<u32>;
@group(0) @binding(4) var<storage, read_write> groupCount: array<u32>;

var<workgroup> scratch: array<u32, WG>;

fn changed(i: u32) -> u32 {
  if (i >= params.n) { return 0u; }
  if (params.halfWords == 1u) {
    let w = i >> 1u;
    let shift = (i & 1u) * 16u;
    return select(0u, 1u, (((a[w] ^ b[w]) >> shift) & 0xffffu) != 0u);
  }
  return select(0u, 1u, a[i] != b[i]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * params.groupsX;
  let i = group * WG + lid;
  let flag = changed(i);
  scratch[lid] = flag;
  workgroupBarrier();
  // Hillis–Steele inclusive scan over the workgroup.
  for (var offset = 1u; offset < WG; offset = offset << 1u) {
    var left = 0u;
    if (lid >= offset) { left = scratch[lid - offset]; }
    workgroupBarrier();
    scratch[lid] = scratch[lid] + left;
    workgroupBarrier();
  }
  if (i < params.n) { localOffset[i] = scratch[lid] - flag; }
  if (lid == WG - 1u && group < params.groups) { groupCount[group] = scratch[lid]; }
}
