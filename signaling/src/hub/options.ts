/** What a hub is built with: its limits (defaults in constants.ts, with why) and its collaborators. */
import type { IceServer } from '@shared/protocol';
import * as C from '../constants';
import type { TrustLedger } from '../ledger';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { SharedState } from '../shared-state';

export interface HubLimits {
  messageBurst: number;
  messagesPerSecond: number;
  connectionBurst: number;
  connectionsPerSecond: number;
  maxConnectionsPerIp: number;
  rateLimitStrikes: number;
  protocolStrikes: number;
  oversizeStrikes: number;
  maxBufferedBytes: number;
  maxJobsPerRequester: number;
  maxJobsPerIp: number;
  receiptBurst: number;
  receiptsPerSecond: number;
  receiptIpBurst: number;
  receiptsPerIpPerSecond: number;
  receiptServerBurst: number;
  receiptsPerServerPerSecond: number;
  /** Frames that may wait behind an async handler before each further one is refused (SPEC RATE6). */
  maxPendingFrames: number;
}

export const DEFAULT_LIMITS: HubLimits = {
  messageBurst: C.MESSAGE_BURST,
  messagesPerSecond: C.MESSAGES_PER_SECOND,
  connectionBurst: C.CONNECTION_BURST,
  connectionsPerSecond: C.CONNECTIONS_PER_SECOND,
  maxConnectionsPerIp: C.MAX_CONNECTIONS_PER_IP,
  rateLimitStrikes: C.RATE_LIMIT_STRIKES,
  protocolStrikes: C.PROTOCOL_STRIKES,
  oversizeStrikes: C.OVERSIZE_STRIKES,
  maxBufferedBytes: C.MAX_BUFFERED_BYTES,
  maxJobsPerRequester: C.MAX_JOBS_PER_REQUESTER,
  maxJobsPerIp: C.MAX_JOBS_PER_IP,
  receiptBurst: C.RECEIPT_BURST,
  receiptsPerSecond: C.RECEIPTS_PER_SECOND,
  receiptIpBurst: C.RECEIPT_IP_BURST,
  receiptsPerIpPerSecond: C.RECEIPTS_PER_IP_PER_SECOND,
  receiptServerBurst: C.RECEIPT_SERVER_BURST,
  receiptsPerServerPerSecond: C.RECEIPTS_PER_SERVER_PER_SECOND,
  maxPendingFrames: C.MAX_PENDING_FRAMES,
};

export interface HubOptions {
  iceServers: IceServer[];
  heartbeatMs: number;
  nonceTtlMs: number;
  limits: HubLimits;
  now: () => number;
  log: Logger;
  metrics: Metrics;
  /** The receipt log, leaderboard and reports; in memory when not given. */
  ledger?: TrustLedger;
  /**
   * What instances share (SPEC SCALE1): the hub publishes every change to it and
   * applies what it hands back. One process when not given; start() it before serving otherwise.
   */
  shared?: SharedState;
}
