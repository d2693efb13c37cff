// Pass 2: exclusive prefix sum of the per-workgroup counts, in place, by one
// workgroup walking the counts a block at a time with a running carry. Also
// writes the total number of changed elements.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> groupCount: array<u32>;
@group(0) @binding(2) var<storage, read_write> total: array<u32>;

var<workgroup> scratch: array<u32, WG>;
var<workgroup> carry: u32;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) { carry = 0u; }
  workgroupBarrier();
  let blocks = (params.groups + WG - 1u) / WG;
  for (var block = 0u; block < blocks; block++) {
    let idx = block * WG + lid;
    var value = 0u;
    if (idx < params.groups) { value = groupCount[idx]; }
    scratch[lid] = value;
    workgroupBarrier();
    for (var offset = 1u; offset < WG; offset = offset << 1u) {
      var left = 0u;
      if (lid >= offset) { left = scratch[lid - offset]; }
      workgroupBarrier();
      scratch[lid] = scratch[lid] + left;
      workgroupBarrier();
    }
    let base = carry;
    if (idx < params.groups) { groupCount[idx] = base + scratch[lid] - value; }
    workgroupBarrier();
    if (lid == WG - 1u) { carry = base + scratch[lid]; }
    workgroupBarrier();
  }
  if (lid == 0u) { total[0] = carry; }
}
