/** The trust core: verification, reputation and credit. Pure TypeScript; see SPEC.md for the rules. */
export * from './adapterClass';
export * from './compare';
export * from './constants';
export * from './errors';
export * from './freivalds';
export * from './jobVerifier';
export * from './leaderboard';
export * from './policy';
export * from './quorum';
export * from './random';
export * from './receiptLog';
export * from './receipts';
export * from './reputation';
export * from './sampling';
export * from './signedResult';
export * from './tensor';
