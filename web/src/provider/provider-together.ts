/**
 * The provider's side of training together (issue 19). A requester sends the job, this tab's shard and
 * the current version; each round this tab trains H inner steps on its shard from that version (WASM,
 * yielding to the page between steps), compresses its pseudo-gradient with error feedback (the residual
 * is kept in IndexedDB, so a reload keeps it), commits to it with a signature, reveals it when asked,
 * then applies the round patch and reports the hash it rebuilt. A version it cannot rebuild is replaced
 * by the snapshot the requester sends. A patch naming volunteers to relay to is forwarded to them over
 * direct links (protocol/relay.ts); one a co-volunteer forwards is applied only as the requester's
 * together-relayed announced it, and kept only if it rebuilds the announced hash. Messages of one job are
 * handled strictly in order.
 */
import { messageOf } from '@shared/errors';
import {
  AheadDroppedError,
  type AdversaryKind,
  applyRoundPatch,
  type Contribution,
  COMPRESS_DEFAULTS,
  commitDigest,
  commitMessage,
  type ContributionShape,
  type DataPlan,
  decodeChain,
  decodeRoundPatch,
  encodeContribution,
  ErrorFeedback,
  makeVersion,
  replayChain,
  roundBatches,
  tamperedWork,
  RoundTrainer,
  type RoundWork,
  TOGETHER_VALIDATION_SHARE,
  type Version,
} from '@shared/jobs/together';
import { hyperFor, parseTrainSpec, type TrainSpec, WasmTrainEngine } from '@shared/jobs';
import {
  decodeTogetherToProvider,
  encodeTogether,
  type TogetherFromProvider,
  type TogetherToProvider,
  TOGETHER_WIRE_VERSION,
} from '@shared/protocol';
import { arenaFor, newTrainState, WasmBackend } from '@shared/train';
import type { KeyValueStore } from '../storage/kv';
import { yieldToPage } from '../core/yield-to-page';
import { type ForwardFn, forwardDown } from './co-volunteers';

/** What the volunteer's page shows of the training-together job this tab is in. */
export interface TogetherActivity {
  readonly jobId: string;
  readonly shard: number;
  readonly shards: number;
  /** The round of the version it holds. */
  readonly round: number;
  readonly roundsTrained: number;
  readonly lastLoss: number | null;
  readonly tokensPerS: number;
  readonly status: string;
  /** Round patches this tab got from a co-volunteer, and patches it forwarded to co-volunteers. */
  readonly relayedIn: number;
  readonly forwarded: number;
  /** How it got the version it started from: 'chain' (seed + round patches) or 'whole'. */
  readonly joinedBy: 'chain' | 'whole';
  /** In words, with the bytes. */
  readonly joinedVia: string;
  /** False once the link to its requester closed. */
  readonly active: boolean;
}

export interface ProviderTogetherDeps {
  /** Signs a commitment with this provider's key. */
  sign(message: Uint8Array): Promise<string>;
  store: KeyValueStore;
  log(line: string): void;
  /** Each change of what this tab does for a together job. */
  report?(activity: TogetherActivity): void;
  /** Sends a message to co-volunteer `peerId` of `jobId` over a direct link (absent: this tab does not relay). */
  forward?: ForwardFn;
  /** Test harness only: cheat this way (bench/e2e adversaries). */
  adversary?: AdversaryKind;
}

type PatchHeader = Extract<TogetherToProvider, { type: 'together-patch' }>;
type Notice = Extract<TogetherToProvider, { type: 'together-relayed' }>;

interface Job {
  readonly jobId: string;
  readonly spec: TrainSpec;
  readonly plan: DataPlan;
  readonly shard: number;
  readonly tokens: Int32Array;
  readonly shape: ContributionShape;
  readonly trainer: RoundTrainer;
  readonly engine: WasmTrainEngine;
  version: Version;
  /** The round committed to and its bytes, until revealed. */
  pending: { round: number; bytes: Uint8Array } | null;
  readonly send: (bytes: Uint8Array) => void;
  lastSent: Uint8Array | null;
  roundsTrained: number;
  lastLoss: number | null;
  tokensPerS: number;
  /** The round patch the requester said a co-volunteer brings, and a forwarded one that came before it did. */
  expect?: Notice;
  early?: { header: PatchHeader; body: Uint8Array; from: string };
  relayedIn: number;
  forwarded: number;
  readonly joinedBy: 'chain' | 'whole';
  readonly joinedVia: string;
  /** The next round, trained from the moment this one was committed (see `trainAhead`). */
  ahead: Ahead | null;
  /** The inner optimizer's step at the end of the last round trained (ahead steps not counted). */
  innerStep: number;
}

/**
 * The next round trained ahead: it starts from where the last round ended and moves onto the round's
 * version when a patch or snapshot brings it (RoundTrainer.trainAhead), so this tab computes while the
 * round before is revealed, scored and relayed instead of waiting for it.
 */
interface Ahead {
  readonly round: number;
  readonly work: Promise<RoundWork>;
  readonly started: number;
  /** The version it moved onto, once it has. */
  baseHash: string | null;
  /** Resolves the trainer's wait once the round's version is here, or the work was dropped. */
  wake(): void;
  dropped: boolean;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const residualKey = (jobId: string) => `together-residual:${jobId}`;
/** The inner AdamW moments and step: restarting them would make the next round's first steps far too large. */
const innerKey = (jobId: string) => `together-inner:${jobId}`;

interface InnerSaved {
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly step: number;
}

function innerFrom(raw: unknown, n: number): InnerSaved | null {
  const o = raw as Partial<InnerSaved> | undefined;
  if (!o || !(o.m instanceof Float32Array) || !(o.v instanceof Float32Array)) return null;
  if (o.m.length !== n || o.v.length !== n || !Number.isInteger(o.step) || (o.step ?? -1) < 0) return null;
  return { m: o.m, v: o.v, step: o.step! };
}
export class ProviderTogether {
  private readonly jobs = new Map<string, Job>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ProviderTogetherDeps) {}

  get busy(): boolean {
    return this.jobs.size > 0;
  }

  receive(key: string, jobId: string, send: (bytes: Uint8Array) => void, bytes: Uint8Array): void {
    this.queue = this.queue.then(() => this.handle(key, jobId, send, bytes)).catch(() => {});
  }

  /** A message a co-volunteer forwarded over a direct link: only an announced round patch is taken. */
  relayed(jobId: string, from: string, bytes: Uint8Array): void {
    this.queue = this.queue.then(() => this.fromCoVolunteer(jobId, from, bytes)).catch(() => {});
  }

  close(key: string): void {
    const job = this.jobs.get(key);
    if (!job) return;
    this.jobs.delete(key);
    // Training ahead stops at its next step; the engine goes once it has.
    const ahead = job.ahead;
    if (ahead) {
      this.dropAhead(job);
      void ahead.work.catch(() => {}).finally(() => job.engine.dispose());
    } else job.engine.dispose();
    this.report(job, 'the link to its requester closed (the job ended, or the requester left)', false);
  }

  private report(job: Job, status: string, active = true): void {
    this.deps.report?.({
      jobId: job.jobId,
      shard: job.shard,
      shards: job.plan.shards,
      round: job.version.round,
      roundsTrained: job.roundsTrained,
      lastLoss: job.lastLoss,
      tokensPerS: job.tokensPerS,
      status,
      relayedIn: job.relayedIn,
      forwarded: job.forwarded,
      joinedBy: job.joinedBy,
      joinedVia: job.joinedVia,
      active,
    });
  }

  private async handle(key: string, jobId: string, send: (bytes: Uint8Array) => void, bytes: Uint8Array) {
    const reply = (m: TogetherFromProvider, body?: Uint8Array) => send(encodeTogether(m, body));
    const refuse = (code: string, message: string) =>
      reply({ type: 'together-error', jobId, code, message: message.slice(0, 1024) });
    let m: { header: TogetherToProvider; body: Uint8Array };
    try {
      m = decodeTogetherToProvider(bytes);
    } catch (error) {
      return refuse('provider', `bad together message: ${messageOf(error)}`);
    }
    const { header, body } = m;
    if (header.jobId !== jobId) return refuse('provider', `this link is for job ${jobId}, not ${header.jobId}`);
    try {
      if (header.type === 'together-start') return await this.start(key, header, body, send);
      const job = this.jobs.get(key);
      if (!job) return refuse('provider', 'no together job on this link: send together-start first');
      switch (header.type) {
        case 'together-round':
          return await this.round(job, header.round, header.versionHash);
        case 'together-reveal':
          if (job.pending?.round !== header.round) return;
          reply({ type: 'together-contribution', jobId, round: header.round }, job.pending.bytes);
          job.pending = null;
          return;
        case 'together-patch':
          return await this.patch(job, header, body, null);
        case 'together-relayed': {
          job.expect = header;
          const early = job.early;
          job.early = undefined;
          if (early?.header.round === header.round) return await this.patch(job, early.header, early.body, early.from);
          return;
        }
        case 'together-snapshot': {
          const v = await makeVersion(header.round, new Float32Array(body.slice().buffer), null);
          if (v.hash !== header.versionHash) return refuse('provider', 'the snapshot does not hash to its version');
          job.version = v;
          this.versionChanged(job);
          return this.ready(job);
        }
      }
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.deps.log(`together job ${jobId}: ${messageOf(error)}`);
      // A patch this tab cannot apply: say which version it holds, and the requester sends a snapshot.
      if (header.type === 'together-patch') {
        const job = this.jobs.get(key);
        if (job) return this.ready(job);
      }
      return refuse(typeof code === 'string' && code !== 'patch' ? code : 'provider', messageOf(error));
    }
  }

  private async fromCoVolunteer(jobId: string, from: string, bytes: Uint8Array): Promise<void> {
    const job = [...this.jobs.values()].find((j) => j.jobId === jobId);
    if (!job) return;
    const who = `co-volunteer ${from.slice(0, 8)}…`;
    let m: { header: TogetherToProvider; body: Uint8Array };
    try {
      m = decodeTogetherToProvider(bytes);
    } catch (error) {
      return this.deps.log(`together job ${jobId}: ${who} sent no together message (${messageOf(error)})`);
    }
    const { header, body } = m;
    if (header.type !== 'together-patch' || header.jobId !== jobId)
      return this.deps.log(`together job ${jobId}: ignored ${header.type} from ${who}`);
    // The requester's notice usually comes first; a patch that overtook it waits for it (only the latest).
    if (!job.expect || job.expect.round < header.round) return void (job.early = { header, body, from });
    if (job.expect.round !== header.round)
      return this.deps.log(`together job ${jobId}: ${who} forwarded round ${header.round}, not the one announced`);
    try {
      await this.patch(job, header, body, from);
    } catch (error) {
      this.deps.log(`together job ${jobId}: the patch ${who} forwarded fails (${messageOf(error)})`);
      this.ready(job);
    }
  }

  /**
   * Applies a round patch from the requester (`from` null) or a co-volunteer, whose patch is taken only if
   * it names the base and result the requester announced; then forwards it down the relay list.
   */
  private async patch(job: Job, header: PatchHeader, body: Uint8Array, from: string | null): Promise<void> {
    const p = decodeRoundPatch(body);
    // Already applied (a relayed copy and the requester's own both came): nothing to do.
    if (job.version.hash === p.resultHash) return this.ready(job);
    const expect = job.expect;
    if (from !== null && (expect?.baseHash !== p.baseHash || expect.versionHash !== p.resultHash)) {
      this.deps.log(`together job ${job.jobId}: co-volunteer ${from.slice(0, 8)}… forwarded a patch not announced`);
      return this.ready(job);
    }
    // applyRoundPatch checks that it starts from the patch's base and rebuilds the patch's result.
    job.version = await applyRoundPatch(job.version, p, job.shape);
    if (from !== null) job.relayedIn++;
    job.expect = undefined;
    // The residual and moments as the last round left them (training ahead has not touched either yet).
    const inner = job.trainer.state;
    const saved: [string, unknown][] = [
      [residualKey(job.jobId), job.trainer.feedback.residual.slice()],
      [innerKey(job.jobId), { m: inner.m.slice(), v: inner.v.slice(), step: job.innerStep }],
    ];
    this.versionChanged(job);
    await this.deps.store.setMany(saved);
    this.ready(job);
    forwardDown(this.deps.forward, job.jobId, header.relay, (relay) => encodeTogether({ ...header, relay }, body), {
      forwarded: () => {
        job.forwarded++;
        this.report(job, `forwarded round ${header.round}'s patch to a co-volunteer`);
      },
      failed: (peerId, reason) =>
        this.deps.log(
          `together job ${job.jobId}: could not forward round ${header.round}'s patch to ${peerId.slice(0, 8)}… (${reason}); the requester sends it`,
        ),
    });
  }

  private async start(
    key: string,
    h: Extract<TogetherToProvider, { type: 'together-start' }>,
    body: Uint8Array,
    send: (bytes: Uint8Array) => void,
  ): Promise<void> {
    if (h.v !== TOGETHER_WIRE_VERSION)
      throw Object.assign(new Error(`together protocol ${h.v} is not ${TOGETHER_WIRE_VERSION}: reload the page`), {
        code: 'provider',
      });
    this.close(key);
    const spec = parseTrainSpec(h.spec);
    const together = spec.together;
    if (!together) throw Object.assign(new Error('the job has no together settings'), { code: 'config' });
    const config = spec.model;
    const u16 = new Uint16Array(body.slice(0, 2 * h.tokens).buffer);
    const tokens = Int32Array.from(u16);
    const rest = body.subarray(2 * h.tokens);
    const { version, via } = await this.versionIn(spec, h, rest);
    const params = version.params;
    const plan: DataPlan = {
      seed: spec.seed,
      shards: h.shards,
      innerSteps: together.innerSteps,
      batch: spec.batch,
      T: config.context,
      validationShare: TOGETHER_VALIDATION_SHARE,
    };
    // Check the shard before allocating an engine: a corpus too small for the plan throws here.
    roundBatches(tokens, config, { ...plan, innerSteps: 1 }, h.shard, 0);
    const compress = { ...COMPRESS_DEFAULTS, topK: together.topK };
    const saved = await this.deps.store.get(residualKey(h.jobId));
    const residual = saved instanceof Float32Array && saved.length === params.length ? saved : undefined;
    const backend = await WasmBackend.create(arenaFor(config, spec.batch, config.context));
    const engine = new WasmTrainEngine(backend);
    const state = newTrainState(config, hyperFor(spec), spec.seed);
    const inner = innerFrom(await this.deps.store.get(innerKey(h.jobId)), params.length);
    if (inner) {
      state.m.set(inner.m);
      state.v.set(inner.v);
      state.step = inner.step;
    }
    const job: Job = {
      jobId: h.jobId,
      spec,
      plan,
      shard: h.shard,
      tokens,
      shape: { n: params.length, chunk: compress.chunk, topK: compress.topK },
      trainer: new RoundTrainer(engine, state, new ErrorFeedback(params.length, compress, residual), hyperFor(spec)),
      engine,
      version,
      pending: null,
      send,
      lastSent: null,
      roundsTrained: 0,
      lastLoss: null,
      tokensPerS: 0,
      relayedIn: 0,
      forwarded: 0,
      joinedBy: h.chainBytes === undefined ? 'whole' : 'chain',
      joinedVia: via,
      ahead: null,
      innerStep: state.step,
    };
    this.jobs.set(key, job);
    this.deps.log(
      `training together: job ${h.jobId}, shard ${h.shard + 1} of ${h.shards}, from round ${h.round} (${via})` +
        (residual ? ' (error-feedback residual restored)' : '') +
        (inner ? ` (inner optimizer restored at step ${inner.step})` : ''),
    );
    this.ready(job);
  }

  /**
   * The version a start brings: sent whole, or rebuilt from the seed through the chain of round patches. A
   * chain that does not rebuild the named version leaves what it rebuilt: the tab reports that hash as
   * ready, and the requester sends the version whole.
   */
  private async versionIn(
    spec: TrainSpec,
    h: Extract<TogetherToProvider, { type: 'together-start' }>,
    rest: Uint8Array,
  ): Promise<{ version: Version; via: string }> {
    if (h.chainBytes === undefined) {
      const version = await makeVersion(h.round, new Float32Array(rest.slice(0, h.paramBytes).buffer), null);
      if (version.hash !== h.versionHash) throw new Error('the version sent does not hash to its name');
      return { version, via: `version sent whole, ${kib(h.paramBytes)}` };
    }
    const patches = decodeChain(rest);
    const version = await replayChain(spec, patches);
    const via = `rebuilt from the seed through ${patches.length} round patches, ${kib(h.chainBytes)}`;
    if (version.hash === h.versionHash) return { version, via };
    this.deps.log(`the round patches rebuilt version ${version.hash.slice(0, 8)}…, not ${h.versionHash.slice(0, 8)}…`);
    return { version, via: `${via}, which did not rebuild it: asking for it whole` };
  }

  private ready(job: Job): void {
    this.report(job, `holds the version of round ${job.version.round}`);
    job.send(
      encodeTogether({
        type: 'together-ready',
        jobId: job.jobId,
        round: job.version.round,
        versionHash: job.version.hash,
        backend: job.engine.name,
      }),
    );
  }

  private async round(job: Job, round: number, versionHash: string): Promise<void> {
    if (job.version.hash !== versionHash) return this.ready(job);
    const steps = job.plan.innerSteps;
    let work: RoundWork | null = null;
    let started = performance.now();
    const ahead = job.ahead;
    job.ahead = null;
    if (ahead?.round === round) {
      ahead.wake();
      started = ahead.started;
      work = await ahead.work.catch((error: unknown) => {
        if (error instanceof AheadDroppedError) return null;
        throw error;
      });
      // Moved onto another version of this round (one replaced since): trained from the wrong base, so again.
      if (ahead.baseHash !== versionHash) work = null;
    } else if (ahead) await this.settle(ahead);
    if (!work) {
      const batches = roundBatches(job.tokens, job.spec.model, job.plan, this.trainShard(job), round);
      started = performance.now();
      if (job.trainer.needsWarm(round)) {
        this.report(job, `warming a new inner optimizer on round ${round + 1}'s ${steps} batches`);
        await job.trainer.warm(job.version.params, batches, yieldToPage);
      }
      this.report(job, `training round ${round + 1}: ${steps} steps on shard ${job.shard + 1}`);
      work = await job.trainer.train(job.version.params, batches, yieldToPage);
    }
    job.innerStep = job.trainer.state.step;
    const seconds = Math.max((performance.now() - started - work.waitedMs) / 1000, 1e-3);
    const bytes = this.tamper(job, round, work) ?? work.bytes;
    job.lastSent ??= bytes;
    const digest = await commitDigest(bytes);
    const signature = await this.deps.sign(commitMessage(job.jobId, round, versionHash, digest));
    job.pending = { round, bytes };
    const finite = work.losses.filter(Number.isFinite);
    const loss = finite.length ? finite.reduce((s, x) => s + x, 0) / finite.length : null;
    const tokensPerS = (steps * job.spec.batch * job.spec.model.context) / seconds;
    job.roundsTrained++;
    job.lastLoss = loss;
    job.tokensPerS = tokensPerS;
    this.deps.log(`round ${round + 1}: trained ${steps} steps, loss ${loss?.toFixed(3) ?? '—'}, committed`);
    job.send(
      encodeTogether({
        type: 'together-commit',
        jobId: job.jobId,
        round,
        baseHash: versionHash,
        digest,
        signature,
        loss,
        tokensPerS,
      }),
    );
    this.trainAhead(job, round + 1);
  }

  /** Starts training round `round` before its version is here, unless the job has no such round. */
  private trainAhead(job: Job, round: number): void {
    const total = Math.floor(job.spec.steps / job.plan.innerSteps);
    if (round >= total || ![...this.jobs.values()].includes(job)) {
      this.report(job, `round ${round}: committed; waiting for the round to close`);
      return;
    }
    const batches = roundBatches(job.tokens, job.spec.model, job.plan, this.trainShard(job), round);
    let wake = () => {};
    const arrived = new Promise<void>((resolve) => (wake = resolve));
    const here = () => {
      if (job.version.round !== round) return null;
      ahead.baseHash = job.version.hash;
      return job.version.params;
    };
    const ahead: Ahead = {
      round,
      started: performance.now(),
      baseHash: null,
      wake,
      dropped: false,
      work: job.trainer.trainAhead(
        batches,
        {
          poll: here,
          arrived: async () => {
            await arrived;
            const v = here();
            if (!v || ahead.dropped) throw new AheadDroppedError();
            return v;
          },
        },
        yieldToPage,
        () => ahead.dropped,
      ),
    };
    // Settled by round() or dropped; never left as an unhandled rejection.
    ahead.work.catch(() => {});
    job.ahead = ahead;
    this.report(job, `round ${round}: committed; training round ${round + 1} ahead until its version arrives`);
  }

  /** A new version is here: training ahead moves onto it if it is the round's, and is dropped if past it. */
  private versionChanged(job: Job): void {
    const ahead = job.ahead;
    if (!ahead) return;
    if (job.version.round === ahead.round) ahead.wake();
    else if (job.version.round > ahead.round) this.dropAhead(job);
  }

  private dropAhead(job: Job): void {
    const ahead = job.ahead;
    if (!ahead) return;
    ahead.dropped = true;
    ahead.wake();
    job.ahead = null;
  }

  /** Waits until dropped work has let go of the engine. */
  private async settle(ahead: Ahead): Promise<void> {
    ahead.dropped = true;
    ahead.wake();
    await ahead.work.catch(() => {});
  }

  private trainShard(job: Job): number {
    return this.deps.adversary === 'wrong-shard' ? (job.shard + 1) % job.plan.shards : job.shard;
  }

  /** The harness's adversaries (never set in the product). */
  private tamper(job: Job, round: number, work: { contribution: Contribution; delta: Float32Array }) {
    const kind = this.deps.adversary;
    if (!kind) return null;
    if (kind === 'stale') return job.lastSent;
    const rewritten = tamperedWork(kind, work.contribution, work.delta, round + 1);
    return rewritten ? encodeContribution(rewritten) : null;
  }
}
