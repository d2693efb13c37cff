/**
 * A Train job trained by many volunteers together (issue 19), seen by the Trainer as one more training
 * worker: it takes start/pause/resume/cancel and answers with steps, validation losses and a checkpoint
 * per round, so curves, storage, reload and export work as for the other runs.
 *
 * Inside, rounds of SparseLoCo: it opens a `train` job for spec.together.providers providers, gives each
 * linked provider a shard and the current version, then per round asks every provider holding the
 * version to train, waits for their signed commitments (or the round's deadline), asks for the reveals,
 * and closes the round with TogetherRounds (shared/src/jobs/together: screening, loss test, ratings, the
 * outer step). The round patch is relayed through the providers (version-relay.ts: the requester uploads it
 * once), each reports the hash it rebuilt; one the relay missed gets the patch from the requester, and a
 * mismatch after that the whole version. A provider that leaves mid-round costs only its contribution; a reload resumes from
 * the last completed round (its checkpoint) with the audit log kept in IndexedDB.
 */
import { messageOf } from '@shared/errors';
import {
  type CheckpointRecord,
  checkpointRecord,
  emptyHistory,
  hyperFor,
  prepareData,
  readCheckpoint,
  type TrainData,
  type TrainEvent,
  type TrainHistory,
  type TrainSpec,
} from '@shared/jobs';
import {
  BackendLossProbe,
  COMPRESS_DEFAULTS,
  type Commitment,
  type ContributionShape,
  type DataPlan,
  encodeChain,
  type Entry,
  entryFromReveal,
  GAUNTLET_DEFAULTS,
  makeVersion,
  OUTER_SEARCH_FACTORS,
  refusalText,
  roundBatches,
  TOGETHER_VALIDATION_SHARE,
  TogetherRounds,
  validationBatches,
  type Verdict,
  type Version,
} from '@shared/jobs/together';
import {
  decodeTogetherFromProvider,
  encodeTogether,
  type TogetherFromProvider,
  type TogetherToProvider,
  TOGETHER_WIRE_VERSION,
} from '@shared/protocol';
import { arenaFor, newTrainState, WasmBackend } from '@shared/train';
import type { PeerFactory, SignalingPort } from '../core/ports';
import type { ProviderLink } from '../requester/provider-links';
import { VolunteerLinks, Waiter } from '../requester/volunteer-links';
import type { ReceiptOutbox } from '../requester/receipt-outbox';
import type { Identity } from '@shared/identity';
import type { KeyValueStore } from '../storage/kv';
import type { FromTrainWorker, ToTrainWorker } from './messages';
import { type TogetherProviderRow, useTogether } from './together-view';
import { VersionRelay } from '../requester/version-relay';
import type { WorkerLike } from './train-worker-factory';

export interface TogetherRunDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  store: KeyValueStore;
  /** The requester's key and the connection's outbox: accepted contributions earn receipts (none without them). */
  identity?: Identity;
  receipts?: ReceiptOutbox;
}

/** How long a round waits for commitments after its first one, at least (then 3× the first one's time). */
const MIN_COMMIT_WAIT_MS = 5_000;
/** And at most: as long as it waits for the first one. */
const MAX_COMMIT_WAIT_MS = 10 * 60_000;
const REVEAL_WAIT_MS = 10_000;
/** The first round waits this long for the wanted number of providers once one is ready. */
const GATHER_MS = 3_000;

interface Member {
  readonly link: ProviderLink;
  readonly shard: number;
  holds: string;
  commit: (Commitment & { loss: number | null; tokensPerS: number }) | null;
  reveal: Uint8Array | null;
}

const short = (peerId: string) => `${peerId.slice(0, 8)}…`;
const auditKey = (jobId: string, round: number) => `together-audit:${jobId}:${String(round).padStart(8, '0')}`;

export class TogetherRun implements WorkerLike {
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  private deps: TogetherRunDeps | null = null;
  private spec!: TrainSpec;
  private data!: TrainData;
  private plan!: DataPlan;
  private shape!: ContributionShape;
  private rounds!: TogetherRounds;
  private probeBackend: WasmBackend | null = null;
  private history: TrainHistory = emptyHistory();
  private net!: VolunteerLinks;
  private readonly members = new Map<string, Member>();
  private paused = false;
  private ended = false;
  private batchCache: { round: number; byShard: Map<number, ReturnType<typeof roundBatches>> } = {
    round: -1,
    byShard: new Map(),
  };
  /** The round collecting commitments, and who was asked to train it. */
  private openRound: { round: number; sent: Set<string> } | null = null;
  /** Wakes the round loop when a provider answers. */
  private readonly waiter = new Waiter(() => this.ended);
  /** The last round's patch: the relay's heads and fallbacks get it. */
  private patch: { round: number; baseHash: string; versionHash: string; bytes: Uint8Array } | null = null;
  private readonly relay = new VersionRelay({
    sendPatch: (peerId, relay) => {
      const m = this.members.get(peerId);
      if (!m || !this.patch) return;
      const header = { type: 'together-patch', jobId: this.spec.id, round: this.patch.round } as const;
      this.send(m.link, relay.length ? { ...header, relay: [...relay] } : header, this.patch.bytes);
    },
    sendNotice: (peerId) => {
      const m = this.members.get(peerId);
      if (!m || !this.patch) return;
      const { round, baseHash, versionHash } = this.patch;
      this.send(m.link, { type: 'together-relayed', jobId: this.spec.id, round, baseHash, versionHash });
    },
  });

  constructor(private readonly pending: TogetherRunDeps | Promise<TogetherRunDeps>) {}

  postMessage(m: ToTrainWorker): void {
    if (this.ended) return;
    if (m.type === 'start') {
      void Promise.resolve(this.pending)
        .then((deps) => {
          this.deps = deps;
          if (!this.ended) return this.begin(m.spec, m.text, m.checkpoint);
        })
        .catch((error) => this.emit({ type: 'error', code: 'config', message: messageOf(error) }));
      return;
    }
    if (m.type === 'pause') {
      this.paused = true;
      this.view((j) => ({ ...j, phase: 'paused: the round in progress finishes, then none starts' }));
    }
    if (m.type === 'resume') {
      this.paused = false;
      this.event({ type: 'resumed', step: this.step() });
      this.poke();
    }
    if (m.type === 'cancel') {
      this.event({ type: 'cancelled', step: this.step() });
      this.terminate();
    }
  }

  terminate(): void {
    if (this.ended) return;
    this.ended = true;
    this.relay.cancel();
    this.poke();
    this.net?.close('job stopped');
    this.probeBackend?.dispose();
  }

  private emit(m: FromTrainWorker): void {
    queueMicrotask(() => {
      if (!this.ended || m.type === 'event') this.onmessage?.({ data: m } as MessageEvent<FromTrainWorker>);
    });
  }

  private event(event: TrainEvent): void {
    this.emit({ type: 'event', event });
  }

  private view(change: Parameters<ReturnType<typeof useTogether.getState>['update']>[1]): void {
    useTogether.getState().update(this.spec.id, change);
  }

  private step(): number {
    return (this.rounds?.version.round ?? 0) * (this.spec.together?.innerSteps ?? 1);
  }

  private poke(): void {
    this.waiter.poke();
  }

  /** Waits until `ready()` or `ms` pass (or the run ends). */
  private until(ready: () => boolean, ms: number): Promise<void> {
    return this.waiter.until(ready, ms);
  }

  private async begin(spec: TrainSpec, text: string, checkpoint: CheckpointRecord | null): Promise<void> {
    const together = spec.together;
    if (!together) return this.emit({ type: 'error', code: 'config', message: 'the job has no together settings' });
    if (spec.steps % together.innerSteps !== 0)
      return this.emit({
        type: 'error',
        code: 'config',
        message: `steps (${spec.steps}) must be a whole number of rounds of ${together.innerSteps} inner steps`,
      });
    this.spec = spec;
    this.emit({ type: 'preparing', message: 'learning the tokenizer and encoding the corpus' });
    const resumed = checkpoint ? readCheckpoint(checkpoint, spec.model) : null;
    this.data = prepareData(spec.model, text, resumed?.tokenizer);
    if (resumed) this.history = structuredClone(resumed.history);
    const config = spec.model;
    this.plan = {
      seed: spec.seed,
      shards: together.providers,
      innerSteps: together.innerSteps,
      batch: spec.batch,
      T: config.context,
      validationShare: TOGETHER_VALIDATION_SHARE,
    };
    const init = resumed?.state ?? newTrainState(config, hyperFor(spec), spec.seed);
    const round = resumed ? Math.floor(resumed.state.step / together.innerSteps) : 0;
    for (let s = 0; s < together.providers; s++)
      roundBatches(this.data.tokens, config, { ...this.plan, innerSteps: 1 }, s, 0);
    const validation = validationBatches(this.data.tokens, config, this.plan, spec.evalBatches);
    this.shape = { n: init.params.length, chunk: COMPRESS_DEFAULTS.chunk, topK: together.topK };
    this.probeBackend = await WasmBackend.create(arenaFor(config, spec.batch, config.context));
    const probe = new BackendLossProbe(this.probeBackend);
    const shardOf = (peerId: string) => this.members.get(peerId)?.shard ?? 0;
    this.rounds = new TogetherRounds(
      await makeVersion(round, init.params.slice(), null),
      {
        outer: { lr: together.outerLr, momentum: 0 },
        outerPerContribution: together.outerLrPer === 'contribution',
        gauntlet: GAUNTLET_DEFAULTS,
        validationChecks: Math.min(2, validation.length),
        assignedChecks: Math.min(2, together.innerSteps),
        maxNewPerRound: 8,
        // A round whose full outer step would raise the loss is published at half the rate instead.
        outerSearch: { factors: OUTER_SEARCH_FACTORS, batches: Math.min(2, validation.length) },
      },
      {
        shape: this.shape,
        probe,
        assigned: (peerId, r) => this.batchesOf(shardOf(peerId), r),
        validation,
        random: () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32,
      },
    );
    // The round patches so far, for volunteers joining by the chain (a reload keeps them in IndexedDB).
    if (round > 0) this.rounds.audit.push(...(await togetherAudit(this.deps!.store, spec.id)).slice(0, round));
    this.view(() => ({
      rounds: [],
      providers: {},
      versionHash: this.rounds.version.hash,
      phase: 'waiting for volunteers',
    }));
    this.connect();
    this.emit({
      type: 'started',
      backend: `together: waiting for ${together.providers} volunteers`,
      step: this.step(),
      note: '',
    });
    if (this.history.val.length === 0) {
      const val = await this.valLoss(this.rounds.version.params, validation);
      this.history.val.push([this.step(), val]);
      this.event({ type: 'eval', step: this.step(), valLoss: val });
    }
    void this.loop(validation).catch((error) => {
      if (!this.ended) this.event({ type: 'failed', step: this.step(), message: messageOf(error) });
    });
  }

  /**
   * A shard's batches in a round, built once: every loss test of the round draws its control batches from
   * the other shards', and building them reads the whole corpus.
   */
  private batchesOf(shard: number, round: number) {
    if (this.batchCache.round !== round) this.batchCache = { round, byShard: new Map() };
    let batches = this.batchCache.byShard.get(shard);
    if (!batches) {
      batches = roundBatches(this.data.tokens, this.spec.model, this.plan, shard, round);
      this.batchCache.byShard.set(shard, batches);
    }
    return batches;
  }

  private async valLoss(params: Float32Array, validation: Parameters<BackendLossProbe['losses']>[1]) {
    const losses = await this.rounds.deps.probe.losses(params, validation);
    return losses.reduce((s, x) => s + x, 0) / losses.length;
  }

  private connect(): void {
    const { signaling, createPeer, identity, receipts } = this.deps!;
    this.net = new VolunteerLinks({
      jobId: this.spec.id,
      signaling,
      createPeer,
      ...(identity && receipts && { identity, receipts }),
      needs: () =>
        this.ended
          ? null
          : {
              kind: 'train',
              maxProviders: this.spec.together!.providers,
              units: this.spec.steps,
              modelBytes: 4 * this.shape.n,
              ...(this.spec.backend !== 'auto' && { backends: ['wasm'] }),
            },
      onOpen: (link) => this.linked(link),
      onMessage: (link, bytes) => this.fromProvider(link, bytes),
      onLost: (link, reason) => this.lost(link, reason),
      onReceipt: {
        issued: () => this.view((j) => ({ ...j, receipts: (j.receipts ?? 0) + 1 })),
        logged: (count) => this.view((j) => ({ ...j, receiptsLogged: (j.receiptsLogged ?? 0) + count })),
        failed: (message) => this.view((j) => ({ ...j, phase: message })),
      },
    });
  }

  private send(link: ProviderLink, header: TogetherToProvider, body?: Uint8Array): void {
    this.net.send(link, encodeTogether(header, body));
  }

  private versionBytes(v: Version): Uint8Array {
    return new Uint8Array(v.params.buffer.slice(v.params.byteOffset, v.params.byteOffset + v.params.byteLength));
  }

  private linked(link: ProviderLink): void {
    const peerId = link.session.peerId;
    // A volunteer linked again (a new session after a reconnect or a second pairing) keeps its shard.
    const again = this.members.get(peerId);
    const taken = new Set([...this.members.values()].filter((m) => m !== again).map((m) => m.shard));
    let shard = again?.shard ?? 0;
    while (taken.has(shard)) shard++;
    if (shard >= this.plan.shards) return this.net.links.release(peerId, 'the job has all the providers it asked for');
    const member: Member = { link, shard, holds: '', commit: null, reveal: null };
    this.members.set(peerId, member);
    const tokens = Uint16Array.from(this.data.tokens);
    const version = this.rounds.version;
    // The version whole, or version 0's seed and the round patches since when those are fewer bytes.
    const whole = this.versionBytes(version);
    const audit = this.rounds.audit;
    const chain = audit.length === version.round ? encodeChain(audit) : null;
    const state = chain && chain.length < whole.length ? chain : whole;
    const body = new Uint8Array(tokens.byteLength + state.length);
    body.set(new Uint8Array(tokens.buffer), 0);
    body.set(state, tokens.byteLength);
    this.send(
      link,
      {
        type: 'together-start',
        v: TOGETHER_WIRE_VERSION,
        jobId: this.spec.id,
        spec: this.spec,
        shard,
        shards: this.plan.shards,
        round: version.round,
        versionHash: version.hash,
        tokens: tokens.length,
        paramBytes: state === whole ? whole.length : 0,
        momentumBytes: 0,
        ...(state === chain && { chainBytes: chain.length }),
      },
      body,
    );
    this.provider(peerId, { shard, lastStatus: 'joined' });
  }

  private lost(link: ProviderLink, reason: string): void {
    const peerId = link.session.peerId;
    if (this.members.get(peerId)?.link !== link) return;
    this.members.delete(peerId);
    this.relay.left(peerId);
    this.provider(peerId, { lastStatus: `left (${reason})` });
    this.poke();
  }

  private provider(
    peerId: string,
    change: Partial<TogetherProviderRow>,
    verdict?: { round: number; refused: boolean },
  ): void {
    this.view((j) => {
      const old = j.providers[peerId] ?? {
        peerId,
        shard: 0,
        accepted: 0,
        refused: 0,
        lastStatus: '',
        lastReason: '',
        rating: 0,
        bytes: 0,
        tokensPerS: 0,
        holds: '',
        firstRound: -1,
        firstRefused: -1,
        firstReason: '',
      };
      const next = { ...old, ...change };
      if (verdict && next.firstRound < 0) next.firstRound = verdict.round;
      if (verdict?.refused && next.firstRefused < 0) {
        next.firstRefused = verdict.round;
        next.firstReason = next.lastReason;
      }
      return { ...j, providers: { ...j.providers, [peerId]: next } };
    });
  }

  private fromProvider(link: ProviderLink, bytes: Uint8Array): void {
    const peerId = link.session.peerId;
    const member = this.members.get(peerId);
    if (this.ended || member?.link !== link) return;
    let m: { header: TogetherFromProvider; body: Uint8Array };
    try {
      m = decodeTogetherFromProvider(bytes);
    } catch (error) {
      this.net.links.reject(peerId, `sent a malformed message (${messageOf(error)})`, true);
      return this.lost(link, 'malformed message');
    }
    const { header, body } = m;
    if (header.jobId !== this.spec.id) return;
    switch (header.type) {
      case 'together-ready': {
        member.holds = header.versionHash;
        const current = this.rounds.version;
        const via =
          header.versionHash === current.hash
            ? this.relay.reported(peerId, `${header.round} ${header.versionHash}`)
            : null;
        if (via) this.view((j) => ({ ...j, relay: this.relay.counts }));
        // One round behind: the patch itself (the relay missed it); anything else: the whole version.
        const behind =
          this.patch?.versionHash === current.hash &&
          this.patch.baseHash === header.versionHash &&
          this.relay.mismatched(peerId) === 'patch';
        if (header.versionHash !== current.hash && !behind) {
          const params = this.versionBytes(current);
          this.send(
            link,
            {
              type: 'together-snapshot',
              jobId: this.spec.id,
              round: current.round,
              versionHash: current.hash,
              paramBytes: params.length,
            },
            params,
          );
        }
        this.provider(peerId, { holds: header.versionHash, ...(via && { via }) });
        // It caught up (snapshot, or joined) while a round collects commitments: it trains this round too.
        const open = this.openRound;
        if (open && header.versionHash === current.hash && !open.sent.has(peerId)) {
          open.sent.add(peerId);
          member.commit = null;
          member.reveal = null;
          this.send(link, {
            type: 'together-round',
            jobId: this.spec.id,
            round: open.round,
            versionHash: current.hash,
          });
        }
        break;
      }
      case 'together-commit':
        if (header.round === this.rounds.version.round && member.commit === null)
          member.commit = { provider: peerId, ...header };
        break;
      case 'together-contribution':
        if (header.round === this.rounds.version.round && member.commit !== null) member.reveal = body.slice();
        break;
      case 'together-error':
        this.provider(peerId, { lastStatus: `cannot take part: ${header.message}` });
        if (header.code !== 'provider') {
          this.event({ type: 'failed', step: this.step(), message: header.message });
          this.terminate();
          return;
        }
        this.net.links.release(peerId, header.message);
        this.members.delete(peerId);
        break;
    }
    this.poke();
  }

  private holders(): Member[] {
    const hash = this.rounds.version.hash;
    return [...this.members.values()].filter((m) => m.holds === hash);
  }

  private async loop(validation: Parameters<BackendLossProbe['losses']>[1]): Promise<void> {
    const together = this.spec.together!;
    const total = this.spec.steps / together.innerSteps;
    let pendingScores: Awaited<ReturnType<TogetherRounds['close']>>['background'] = [];
    let firstRound = true;
    /** When the last round closed: providers train the next one ahead from there (null after a pause). */
    let lastClose: number | null = null;
    /** Seconds the provider's commit says its training took (from the tokens/s it reports; a claim, so bounded). */
    const trainS = (m: Member) =>
      Math.min(
        MAX_COMMIT_WAIT_MS / 1000,
        (together.innerSteps * this.spec.batch * this.spec.model.context) / Math.max(m.commit!.tokensPerS, 1),
      );
    while (!this.ended && this.rounds.version.round < total) {
      await this.until(() => !this.paused && this.holders().length > 0, 60_000);
      if (this.ended) return;
      if (this.paused || this.holders().length === 0) {
        lastClose = null;
        continue;
      }
      if (firstRound) await this.until(() => this.holders().length >= together.providers, GATHER_MS);
      // Providers still receiving the version (relayed, or sent it after the relay missed them) train this round.
      else await this.until(() => this.relay.settled || this.paused, this.relay.syncMs);
      firstRound = false;
      const version = this.rounds.version;
      const round = version.round;
      const started = Date.now();
      const began = lastClose ?? started;
      const sent = new Set<string>();
      this.openRound = { round, sent };
      for (const m of this.holders()) {
        m.commit = null;
        m.reveal = null;
        sent.add(m.link.session.peerId);
        this.send(m.link, { type: 'together-round', jobId: this.spec.id, round, versionHash: version.hash });
      }
      this.view((j) => ({ ...j, phase: `round ${round + 1} of ${total}: ${sent.size} training` }));
      // While they train: draw the round's loss tests and run the forwards that need no contribution, so
      // the close after the reveals runs only the rest (the close waits for it).
      void this.rounds.prepare([...sent]);
      const live = () => [...sent].map((p) => this.members.get(p)).filter((m): m is Member => m !== undefined);
      await this.until(() => live().some((m) => m.commit !== null), MAX_COMMIT_WAIT_MS);
      // The others get three times the first one's training, counted from when they could start it.
      const first = live().find((m) => m.commit !== null);
      const allowed = first ? began + 3000 * trainS(first) - Date.now() : 0;
      await this.until(
        () => live().every((m) => m.commit !== null),
        Math.min(MAX_COMMIT_WAIT_MS, Math.max(MIN_COMMIT_WAIT_MS, allowed)),
      );
      this.openRound = null;
      const committed = live().filter((m) => m.commit !== null);
      const computeS = Math.max(0, ...committed.map(trainS));
      for (const m of committed) this.send(m.link, { type: 'together-reveal', jobId: this.spec.id, round });
      await this.until(() => committed.every((m) => m.reveal !== null || !live().includes(m)), REVEAL_WAIT_MS);
      const entries: Entry[] = [];
      for (const m of committed) {
        const c = m.commit!;
        if (m.reveal === null) {
          entries.push({
            provider: c.provider,
            baseHash: c.baseHash,
            bytes: new Uint8Array(),
            contribution: null,
            refused: 'late',
          });
        } else entries.push(await entryFromReveal(this.spec.id, round, c, m.reveal, this.shape));
      }
      const result = await this.rounds.close(entries);
      await this.deps!.store.set(auditKey(this.spec.id, round), result.patchBytes);
      this.publish(round, version.hash, result.version, result.patchBytes);
      const background = await this.rounds.scoreBackground(pendingScores);
      pendingScores = result.background;
      const verdicts = [...result.verdicts, ...background.verdicts];
      this.issueReceipts(verdicts, committed);
      for (const v of verdicts) {
        const rating = this.rounds.ratings.entry(v.provider);
        const member = committed.find((m) => m.commit!.provider === v.provider);
        this.provider(
          v.provider,
          {
            accepted: rating.accepted,
            refused: rating.refused,
            rating: rating.rating,
            lastStatus: `round ${v.round + 1}: ${v.status}${v.weak ? ' (weak: its next contribution is tested in full)' : ''}`,
            lastReason: refusalText(v),
            ...(member && { bytes: v.bytes, tokensPerS: member.commit!.tokensPerS }),
          },
          v.status === 'deferred' ? undefined : { round: v.round, refused: v.status === 'refused' },
        );
      }
      const step = (round + 1) * together.innerSteps;
      const losses = committed.map((m) => m.commit!.loss).filter((x): x is number => x !== null);
      const loss = losses.length ? losses.reduce((s, x) => s + x, 0) / losses.length : Number.NaN;
      const tokensPerS = committed.reduce((s, m) => s + m.commit!.tokensPerS, 0);
      const valLoss = await this.valLoss(result.version.params, validation);
      const left = total - round - 1;
      const wallS = (Date.now() - began) / 1000;
      lastClose = Date.now();
      if (Number.isFinite(loss)) {
        this.history.train.push([step, loss]);
        this.history.speed.push([step, tokensPerS]);
        // The rate the round was published at (per contribution or halved by the guard, it is not the job's).
        this.event({ type: 'step', step, loss, lr: result.patch.outer.lr, tokensPerS, etaS: left * wallS });
      }
      this.history.val.push([step, valLoss]);
      this.event({ type: 'eval', step, valLoss });
      const count = (s: string) => result.verdicts.filter((v) => v.status === s).length;
      this.view((j) => ({
        ...j,
        versionHash: result.version.hash,
        rounds: [
          ...j.rounds,
          {
            round,
            valLoss,
            accepted: count('accepted'),
            refused: count('refused'),
            deferred: count('deferred'),
            patchBytes: result.patchBytes.length,
            denseBytes: 4 * this.shape.n * Math.max(1, committed.length),
            wallS,
            computeS,
          },
        ],
      }));
      const record = this.record(result.version, step);
      this.event(left === 0 ? { type: 'done', step, record, valLoss } : { type: 'checkpoint', step, record, valLoss });
    }
    if (this.ended) return;
    // The last version reaches every provider before the job is done.
    await this.until(() => this.relay.settled, this.relay.syncMs);
    if (!this.ended) this.view((j) => ({ ...j, phase: 'done' }));
  }

  /** Relays round `round`'s patch to every provider holding its base, the best rated at the top of the tree. */
  private publish(round: number, baseHash: string, next: Version, bytes: Uint8Array): void {
    this.patch = { round, baseHash, versionHash: next.hash, bytes };
    const rating = (peerId: string) => this.rounds.ratings.entry(peerId).rating;
    const holders = [...this.members.values()]
      .filter((m) => m.holds === baseHash)
      .map((m) => m.link.session.peerId)
      .sort((a, b) => rating(b) - rating(a));
    this.relay.publish(`${next.round} ${next.hash}`, holders);
    this.view((j) => ({ ...j, relay: this.relay.counts }));
  }

  /**
   * One receipt per accepted contribution (unit = its round), worth the training FLOPs of its inner steps
   * (6 · parameters · tokens) and the time its speed says they took.
   */
  private issueReceipts(verdicts: readonly Verdict[], committed: Member[]) {
    const receipts = this.net?.receipts;
    if (!receipts) return;
    const { innerSteps } = this.spec.together!;
    const tokens = innerSteps * this.spec.batch * this.spec.model.context;
    for (const v of verdicts) {
      // A sampled test's verdict is about a contribution whose round already earned its receipt.
      if (v.status !== 'accepted' || v.scored === 'sampled') continue;
      const member = this.members.get(v.provider);
      const speed = committed.find((m) => m.commit?.provider === v.provider)?.commit?.tokensPerS ?? 0;
      const durationMs = speed > 0 ? Math.round((1000 * tokens) / speed) : 0;
      receipts.issue(v.provider, v.round, 6 * this.shape.n * tokens, durationMs, member?.link.pairing?.network);
    }
  }

  private record(version: Version, step: number): CheckpointRecord {
    const state = newTrainState(this.spec.model, hyperFor(this.spec), this.spec.seed);
    state.params.set(version.params);
    state.step = step;
    return checkpointRecord(state, this.data.tokenizer.toJSON(), this.history, Date.now());
  }
}

/** The job's audit log from IndexedDB: every round patch in order, for export and replay. */
export async function togetherAudit(store: KeyValueStore, jobId: string): Promise<Uint8Array[]> {
  const keys = (await store.keys(`together-audit:${jobId}:`)).sort();
  const out: Uint8Array[] = [];
  for (const k of keys) {
    const v = await store.get(k);
    if (v instanceof Uint8Array) out.push(v);
  }
  return out;
}
