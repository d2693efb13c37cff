/** The framed transport's pure core: frame format, scheduler, reassembler, hash, errors. */
export * from './constants';
export * from './errors';
export * from './frame';
export * from './hash';
export * from './reassembler';
export * from './scheduler';
