/** The wire: signaling messages (client ↔ server), peer messages and weights messages (peer ↔ peer). */
export * from './signaling';
export * from './peer';
export * from './weights';
export * from './train';
export * from './together';
export * from './displayName';
export * from './rl';
export * from './relay';
