/** What a JobRunner is given: the ports it does I/O through and the shared books it writes to. */
import type { Identity } from '@shared/identity';
import type { RandomSource, ReputationBook } from '@shared/trust';
import type { ComputeEngine, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import type { HistoryStore } from '../storage/history-store';
import type { JobStore } from '../storage/job-store';
import type { ReceiptOutbox } from './receipt-outbox';
import type { JobModel } from './job-model';

export interface JobRunnerDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  jobs: JobStore;
  /** Where the job's history and event log are kept; in memory only without it. */
  history?: HistoryStore;
  /** The job's model: its versions, and what each provider is sent to build one. */
  model: JobModel;
  /** The requester's own engine, for spot checks and settling replicas. Without it no spot checks run. */
  local?: ComputeEngine;
  /** Draws which units are checked (tests inject a seeded one); WebCrypto otherwise. */
  random?: () => number;
  now?: () => number;
  extension?: LinkExtension;
  /**
   * The requester's key. With it the runner is on the keyed network (peer ids
   * are public keys): results must carry the provider's signature, caught
   * providers are reported to the server, and accepted units earn receipts.
   */
  identity?: Identity;
  /** Shared by a requester's jobs; drives adaptive checking (new keys checked more). */
  reputation?: ReputationBook;
  /** Work per input row, for receipts; 0 when unknown. */
  flopsPerRow?: number;
  /** Draws for Freivalds' vectors (tests inject a seeded one); WebCrypto otherwise. */
  rng?: RandomSource;
  /** One outbox per signaling connection (see receipt-outbox.ts); a runner alone makes its own. */
  receipts?: ReceiptOutbox;
}
