/**
 * What a JobRunner is given: the ports it does I/O through and the shared
 * books it writes to; and where Templar gathers them for a stored job.
 */
import type { Identity } from '@shared/identity';
import type { JobSpec } from '@shared/jobs';
import { getBuiltinModel } from '@shared/models';
import type { ChangeFinder } from '@shared/pulse';
import { estimateOnnxFlopsPerRow, joinOnnx, type ModelVersion } from '@shared/tensor';
import type { RandomSource, ReputationBook } from '@shared/trust';
import type { ComputeEngine, LinkExtension, PeerFactory, SignalingPort } from '../core/ports';
import type { HistoryStore } from '../storage/history-store';
import type { JobStore } from '../storage/job-store';
import type { ModelStore } from '../storage/model-store';
import type { ReceiptOutbox } from './receipt-outbox';
import { JobModel } from './job-model';

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

/** The requester's ports, given to Templar and through it to every job it runs. */
export interface RequesterPorts {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  /** Engine for spot checks; optional so a requester without one still works (no spot checks). */
  local?: () => Promise<ComputeEngine>;
  /** Rides every job's provider links (PULSE weight distribution). */
  extension?: LinkExtension;
  /** How a new version's changed weights are found: the Web Worker differ in the browser; the CPU scan without it. */
  findChanges?: () => ChangeFinder;
  /** The requester's key: results must be signed, caught providers are reported, accepted units earn receipts. */
  identity?: Identity;
}

export interface RunnerSetupDeps extends RequesterPorts {
  jobs: JobStore;
  history: HistoryStore;
  models: ModelStore;
  receipts: ReceiptOutbox;
  /** The requester's book as loaded now (it is replaced once when the stored one is read). */
  reputation(): ReputationBook;
}

/** What a stored job is given to run here; `notice` says what it runs without. */
export interface RunnerSetup {
  deps: JobRunnerDeps;
  notice?: string;
}

/**
 * Gathers a stored job's JobRunnerDeps in this browser: every version of its
 * model from the one model store, and what every job shares — the local engine
 * (started once, on the first job that checks), the diff worker (started on the
 * first diff), the reputation book and the receipt outbox.
 */
export class RunnerSetups {
  private localEngine?: Promise<ComputeEngine | undefined>;
  private finder?: ChangeFinder;

  constructor(private readonly deps: RunnerSetupDeps) {}

  /** Undefined if a version of the job's model is no longer stored. */
  async forJob(spec: JobSpec): Promise<RunnerSetup | undefined> {
    const model = await this.openModel(spec);
    if (!model) return undefined;
    // Spot checks re-run units here; a quorum whose replicas never agree is settled here too (SPEC TRUST-Q2).
    const local = spec.spotCheckRate > 0 || spec.redundancy > 1 ? await this.localEngineOnce() : undefined;
    const notice =
      spec.spotCheckRate > 0 && !local
        ? 'spot checks are off: this browser could not start a local engine to re-run units'
        : undefined;
    const { signaling, createPeer, jobs, history, extension, identity, receipts } = this.deps;
    const deps: JobRunnerDeps = {
      signaling,
      createPeer,
      jobs,
      history,
      model,
      local,
      extension,
      identity,
      reputation: this.deps.reputation(),
      receipts,
      // Receipts credit FLOPs: a built-in model's declared cost, an uploaded one's read from its graph
      // (MatMul, Gemm, Conv); 0 only when the graph gives no sizes to count.
      flopsPerRow: spec.model.builtinId
        ? getBuiltinModel(spec.model.builtinId)?.flopsPerRow
        : estimateOnnxFlopsPerRow(joinOnnx(model.current.parts)),
    };
    return { deps, notice };
  }

  /** The engine for spot checks, started on first use; undefined if it could not start. */
  localEngineOnce(): Promise<ComputeEngine | undefined> {
    this.localEngine ??=
      this.deps.local?.().catch((error: unknown) => {
        console.warn('local engine for spot checks failed to start', error);
        return undefined;
      }) ?? Promise.resolve(undefined);
    return this.localEngine;
  }

  /** Every version the job has had, from the one model store; undefined if one is gone. */
  private async openModel(spec: JobSpec): Promise<JobModel | undefined> {
    const versions: ModelVersion[] = [];
    for (const hash of await this.deps.jobs.modelVersions(spec.id)) {
      const version = await this.deps.models.version(hash);
      if (!version) return undefined;
      versions.push(version);
    }
    return JobModel.open(versions, this.changeFinder());
  }

  /** One diff worker for every job, started on the first diff (a job's first version needs none). */
  private changeFinder(): ChangeFinder | undefined {
    const make = this.deps.findChanges;
    if (!make) return undefined;
    return (a, b) => {
      this.finder ??= make();
      return this.finder(a, b);
    };
  }
}
