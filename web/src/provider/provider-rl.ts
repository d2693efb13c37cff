/**
 * The provider's side of an RL job (issue 22). The requester sends the policy (a PULSE snapshot) and,
 * each round, prompts with the seeds' inputs; this tab samples every completion under its assigned seed
 * with the version it holds (WASM, yielding to the page between completions), commits to each with its
 * hidden-state sketch, and sends the claims back. After each update the requester sends a PULSE patch;
 * the tab applies it and reports the hash it rebuilt, and a mismatch gets the whole policy. A patch whose
 * header names volunteers to relay to is forwarded to them over direct links (relay.ts); one forwarded to
 * this tab is taken only when the requester's rl-relayed announced its hashes. Messages of one job are
 * handled strictly in order.
 */
import { messageOf } from '@shared/errors';
import {
  type Assignment,
  applyPolicyPatch,
  claimToWire,
  type PolicyVersion,
  policyFromSnapshot,
  type ReadAsync,
  type RolloutClaim,
  rollOut,
} from '@shared/jobs/rl';
import {
  decodeRlToProvider,
  encodeRl,
  type RlFromProvider,
  type RlToProvider,
  RL_WIRE_VERSION,
  rolloutsBody,
} from '@shared/protocol';
import {
  ADAMW_DEFAULTS,
  type Arena,
  arenaFor,
  type Backend,
  type GptConfig,
  newTrainState,
  restoreInto,
  WasmBackend,
} from '@shared/train';
import { yieldToPage } from '../core/yield-to-page';
import { type ForwardFn, forwardDown } from './co-volunteers';

/** The backend a tab rolls out on: WASM (synchronous reads) or WebGPU (reads come back asynchronously). */
export interface RolloutEngine {
  readonly backend: Backend;
  readonly name: string;
  readonly read?: ReadAsync;
  dispose(): void;
}

export type RolloutEngineFactory = (arena: Arena) => Promise<RolloutEngine>;

export const wasmRolloutEngine: RolloutEngineFactory = async (arena) => {
  const b = await WasmBackend.create(arena);
  return { backend: b, name: b.name, dispose: () => b.dispose() };
};

/** What a cheating provider does with its honest work (test harness only; never set in the product). */
export type RolloutRewrite = (
  honest: RolloutClaim[],
  ctx: { readonly assignment: Assignment; readonly policy: PolicyVersion; readonly backend: Backend },
) => Promise<RolloutClaim[]>;

/** What the volunteer's page shows of the RL job this tab rolls out for. */
export interface RlActivity {
  readonly jobId: string;
  readonly backend: string;
  /** The policy version it holds. */
  readonly version: number;
  readonly rounds: number;
  readonly rollouts: number;
  /** Seconds the last round's rollouts took. */
  readonly lastSeconds: number;
  readonly status: string;
  /** Versions this tab got from a co-volunteer, and patches it forwarded to co-volunteers. */
  readonly relayedIn: number;
  readonly forwarded: number;
  /** False once the link to its requester closed. */
  readonly active: boolean;
}

export interface ProviderRlDeps {
  /** This provider's id (its public key): the seeds hash it, so an assignment for another key is refused. */
  selfId(): string | undefined;
  log(line: string): void;
  /** Each change of what this tab does for an RL job. */
  report?(activity: RlActivity): void;
  /** Where rollouts run (default WASM). */
  engine?: RolloutEngineFactory;
  /** Sends a message to co-volunteer `peerId` of `jobId` over a direct link (absent: this tab does not relay). */
  forward?: ForwardFn;
  /** Test harness only: cheat this way (bench/e2e adversaries). */
  rewrite?: RolloutRewrite;
}

type PatchHeader = Extract<RlToProvider, { type: 'rl-patch' }>;
type Expected = Pick<PatchHeader, 'version' | 'baseHash' | 'versionHash'>;
/** An update can leave every bf16 value as it was: the version then moves on under the same hash. */
const holds = (job: Job, v: Expected) => job.policy.version === v.version && job.policy.hash === v.versionHash;
const sameVersion = (a: Expected, b: Expected) =>
  a.version === b.version && a.baseHash === b.baseHash && a.versionHash === b.versionHash;

interface Job {
  readonly jobId: string;
  readonly config: GptConfig;
  readonly engine: RolloutEngine;
  readonly providerKey: string;
  policy: PolicyVersion;
  readonly send: (bytes: Uint8Array) => void;
  rounds: number;
  rollouts: number;
  lastSeconds: number;
  /** The version the requester said a co-volunteer brings, and a forwarded patch that came before it did. */
  expect?: Expected;
  early?: { header: PatchHeader; body: Uint8Array; from: string };
  relayedIn: number;
  forwarded: number;
}

export class ProviderRl {
  private readonly jobs = new Map<string, Job>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ProviderRlDeps) {}

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  receive(key: string, jobId: string, send: (bytes: Uint8Array) => void, bytes: Uint8Array): void {
    this.queue = this.queue.then(() => this.handle(key, jobId, send, bytes)).catch(() => {});
  }

  /** A message a co-volunteer forwarded over a direct link: only an announced patch is taken. */
  relayed(jobId: string, from: string, bytes: Uint8Array): void {
    this.queue = this.queue.then(() => this.fromCoVolunteer(jobId, from, bytes)).catch(() => {});
  }

  close(key: string): void {
    const job = this.jobs.get(key);
    if (!job) return;
    this.jobs.delete(key);
    job.engine.dispose();
    this.report(job, 'the link to its requester closed (the job ended, or the requester left)', false);
  }

  private report(job: Job, status: string, active = true): void {
    const { jobId, engine, policy, rounds, rollouts, lastSeconds, relayedIn, forwarded } = job;
    this.deps.report?.({
      jobId,
      backend: engine.name,
      version: policy.version,
      rounds,
      rollouts,
      lastSeconds,
      status,
      relayedIn,
      forwarded,
      active,
    });
  }

  private async handle(key: string, jobId: string, send: (bytes: Uint8Array) => void, bytes: Uint8Array) {
    const reply = (m: RlFromProvider, body?: Uint8Array) => send(encodeRl(m, body));
    const refuse = (code: string, message: string) =>
      reply({ type: 'rl-error', jobId, code, message: message.slice(0, 1024) });
    let m: { header: RlToProvider; body: Uint8Array };
    try {
      m = decodeRlToProvider(bytes);
    } catch (error) {
      return refuse('provider', `bad RL message: ${messageOf(error)}`);
    }
    const { header, body } = m;
    if (header.jobId !== jobId) return refuse('provider', `this link is for job ${jobId}, not ${header.jobId}`);
    try {
      if (header.type === 'rl-start') return await this.start(key, header, body, send);
      const job = this.jobs.get(key);
      if (!job) return refuse('provider', 'no RL job on this link: send rl-start first');
      switch (header.type) {
        case 'rl-round':
          return await this.round(job, header);
        case 'rl-patch':
          return await this.patch(job, header, body, null);
        case 'rl-relayed': {
          job.expect = header;
          const early = job.early;
          job.early = undefined;
          if (early && sameVersion(early.header, header))
            return await this.patch(job, early.header, early.body, early.from);
          return;
        }
        case 'rl-snapshot': {
          const next = await policyFromSnapshot(body, header.version, job.policy.bf16.length);
          if (next.hash !== header.versionHash) return refuse('provider', 'the snapshot does not hash to its version');
          this.hold(job, next);
          return this.ready(job);
        }
      }
    } catch (error) {
      this.deps.log(`RL job ${jobId}: ${messageOf(error)}`);
      // A patch this tab cannot apply: say which version it holds, and the requester sends a snapshot.
      const job = this.jobs.get(key);
      if (job && header.type === 'rl-patch') return this.ready(job);
      const code = (error as { code?: unknown }).code;
      return refuse(code === 'config' ? 'config' : 'provider', messageOf(error));
    }
  }

  private async fromCoVolunteer(jobId: string, from: string, bytes: Uint8Array): Promise<void> {
    const job = [...this.jobs.values()].find((j) => j.jobId === jobId);
    if (!job) return;
    let m: { header: RlToProvider; body: Uint8Array };
    try {
      m = decodeRlToProvider(bytes);
    } catch (error) {
      return this.deps.log(
        `RL job ${jobId}: co-volunteer ${from.slice(0, 8)}… sent no RL message (${messageOf(error)})`,
      );
    }
    const { header, body } = m;
    if (header.type !== 'rl-patch' || header.jobId !== jobId)
      return this.deps.log(`RL job ${jobId}: ignored ${header.type} from co-volunteer ${from.slice(0, 8)}…`);
    if (holds(job, header)) return;
    // The requester's notice usually comes first; a patch that overtook it waits for it (only the latest).
    if (!job.expect || job.expect.version < header.version) return void (job.early = { header, body, from });
    if (!sameVersion(job.expect, header))
      return this.deps.log(
        `RL job ${jobId}: co-volunteer ${from.slice(0, 8)}… forwarded v${header.version}, not the version announced`,
      );
    try {
      await this.patch(job, header, body, from);
    } catch (error) {
      this.deps.log(
        `RL job ${jobId}: the patch co-volunteer ${from.slice(0, 8)}… forwarded fails (${messageOf(error)})`,
      );
      this.ready(job);
    }
  }

  /**
   * Applies a patch from the requester (`from` null) or a co-volunteer. Only a patch that rebuilds the hash
   * its header names is held and forwarded; otherwise the tab reports what it still holds, and the
   * requester sends the patch itself or the whole policy.
   */
  private async patch(job: Job, header: PatchHeader, body: Uint8Array, from: string | null): Promise<void> {
    if (holds(job, header) || job.policy.hash !== header.baseHash) return this.ready(job);
    const next = await applyPolicyPatch(job.policy, body, header.version);
    if (next.hash !== header.versionHash) {
      this.deps.log(
        `RL job ${job.jobId}: the patch ${from ? `from co-volunteer ${from.slice(0, 8)}… ` : ''}rebuilt another hash`,
      );
      return this.ready(job);
    }
    this.hold(job, next);
    if (from) job.relayedIn++;
    job.expect = undefined;
    this.ready(job);
    forwardDown(this.deps.forward, job.jobId, header.relay, (relay) => encodeRl({ ...header, relay }, body), {
      forwarded: () => {
        job.forwarded++;
        this.report(job, `forwarded policy v${header.version} to a co-volunteer`);
      },
      failed: (peerId, reason) =>
        this.deps.log(
          `RL job ${job.jobId}: could not forward v${header.version} to ${peerId.slice(0, 8)}… (${reason}); the requester sends it`,
        ),
    });
  }

  private async start(
    key: string,
    h: Extract<RlToProvider, { type: 'rl-start' }>,
    body: Uint8Array,
    send: (bytes: Uint8Array) => void,
  ): Promise<void> {
    if (h.v !== RL_WIRE_VERSION)
      throw Object.assign(new Error(`RL protocol ${h.v} is not ${RL_WIRE_VERSION}: reload the page`), {
        code: 'provider',
      });
    const self = this.deps.selfId();
    if (self !== undefined && h.providerKey !== self)
      throw new Error(`the job names this provider ${h.providerKey.slice(0, 8)}…, not ${self.slice(0, 8)}…`);
    this.close(key);
    const config: GptConfig = h.config;
    const engine = await (this.deps.engine ?? wasmRolloutEngine)(arenaFor(config, 1, config.context));
    restoreInto(engine.backend, newTrainState(config, ADAMW_DEFAULTS, 0));
    const policy = await policyFromSnapshot(body, h.version, engine.backend.arena.params.size).catch(
      (error: unknown) => {
        engine.dispose();
        throw error;
      },
    );
    if (policy.hash !== h.versionHash) {
      engine.dispose();
      throw new Error('the policy sent does not hash to its name');
    }
    const job: Job = {
      jobId: h.jobId,
      config,
      engine,
      providerKey: h.providerKey,
      policy,
      send,
      rounds: 0,
      rollouts: 0,
      lastSeconds: 0,
      relayedIn: 0,
      forwarded: 0,
    };
    this.hold(job, policy);
    this.jobs.set(key, job);
    this.deps.log(
      `rolling out for RL job ${h.jobId} on ${engine.name}: policy v${h.version} (${config.layers}×${config.width}, ${policy.bf16.length.toLocaleString()} weights)`,
    );
    this.ready(job);
  }

  private hold(job: Job, policy: PolicyVersion): void {
    job.policy = policy;
    job.engine.backend.writeFloats(job.engine.backend.arena.paramsAt, policy.params);
  }

  private ready(job: Job): void {
    this.report(job, `holds policy v${job.policy.version}`);
    job.send(
      encodeRl({
        type: 'rl-ready',
        jobId: job.jobId,
        version: job.policy.version,
        versionHash: job.policy.hash,
        backend: job.engine.name,
      }),
    );
  }

  private async round(job: Job, h: Extract<RlToProvider, { type: 'rl-round' }>): Promise<void> {
    if (job.policy.hash !== h.versionHash) return this.ready(job);
    if (h.providerKey !== job.providerKey) throw new Error('the round is assigned to another key');
    const assignment: Assignment = {
      round: h.round,
      roundNonce: h.roundNonce,
      providerKey: h.providerKey,
      prompts: new Map(h.prompts.map((p) => [p.index, p.ids])),
      samples: h.samples,
      maxNew: h.maxNew,
      temperature: h.temperature,
    };
    const t0 = performance.now();
    const { backend, read } = job.engine;
    const honest = await rollOut(
      backend,
      assignment,
      job.policy.version,
      (p) => {
        this.report(job, `round ${h.round}: completion ${p.done} of ${p.total}`);
        return yieldToPage();
      },
      read,
    );
    const seconds = (performance.now() - t0) / 1000;
    const rewrite = this.deps.rewrite;
    const claims = rewrite ? await rewrite(honest, { assignment, policy: job.policy, backend }) : honest;
    job.rounds++;
    job.rollouts += claims.length;
    job.lastSeconds = seconds;
    this.report(job, `round ${h.round}: sent ${claims.length} completions`);
    this.deps.log(
      `RL round ${h.round + 1}: ${claims.length} completions of ${h.prompts.length} prompts with policy v${job.policy.version} in ${seconds.toFixed(1)} s`,
    );
    job.send(
      encodeRl(
        { type: 'rl-rollouts', jobId: job.jobId, round: h.round, count: claims.length, seconds },
        rolloutsBody(claims.map(claimToWire)),
      ),
    );
  }
}
