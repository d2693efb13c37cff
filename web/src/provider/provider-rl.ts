/**
 * The provider's side of an RL job (issue 22). The requester sends the policy (a PULSE snapshot) and,
 * each round, prompts with the seeds' inputs; this tab samples every completion under its assigned seed
 * with the version it holds (WASM, yielding to the page between completions), commits to each with its
 * hidden-state sketch, and sends the claims back. After each update the requester sends a PULSE patch;
 * the tab applies it and reports the hash it rebuilt, and a mismatch gets the whole policy. Messages of
 * one job are handled strictly in order.
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
  /** Test harness only: cheat this way (bench/e2e adversaries). */
  rewrite?: RolloutRewrite;
}

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

  close(key: string): void {
    const job = this.jobs.get(key);
    if (!job) return;
    this.jobs.delete(key);
    job.engine.dispose();
    this.report(job, 'the link to its requester closed (the job ended, or the requester left)', false);
  }

  private report(job: Job, status: string, active = true): void {
    const { jobId, engine, policy, rounds, rollouts, lastSeconds } = job;
    this.deps.report?.({
      jobId,
      backend: engine.name,
      version: policy.version,
      rounds,
      rollouts,
      lastSeconds,
      status,
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
        case 'rl-patch': {
          if (job.policy.hash !== header.baseHash) return this.ready(job);
          const next = await applyPolicyPatch(job.policy, body, header.version);
          this.hold(job, next);
          if (next.hash !== header.versionHash) this.deps.log(`RL job ${jobId}: the patch rebuilt another hash`);
          return this.ready(job);
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
