/** Training together (issue 19): SparseLoCo rounds across volunteers, Gauntlet scoring, round patches. */
export * from './errors';
export * from './compress';
export * from './codec';
export * from './outer';
export * from './patch';
export * from './similarity';
export * from './gauntlet';
export * from './ratings';
export * from './plan';
export * from './rounds';
export * from './probe';
export * from './provider';
export * from './adversary';
export * from './audit';
