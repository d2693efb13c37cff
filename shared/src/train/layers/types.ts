/**
 * The reference layers run on float64 (the reference) or float32 storage (the
 * JS f32 path) alike: the maths are the same functions, only the array type
 * changes. Every tensor is a view into one flat buffer (see ../layout.ts).
 */
export type Vec = Float32Array | Float64Array;
