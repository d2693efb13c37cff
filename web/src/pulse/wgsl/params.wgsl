// Shared by the three diff passes (gpuDiff.ts prepends it to each): the
// workgroup size and the uniform block, whose layout gpuDiff.ts writes as four u32.

override WG: u32 = 256u;

struct Params {
  n: u32,          // elements in this chunk
  halfWords: u32,  // 1 for bf16/f16, 0 for f32
  groupsX: u32,    // workgroups per row of the 2-D dispatch
  groups: u32,     // workgroups that hold elements
}
