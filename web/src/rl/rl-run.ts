/**
 * One RL job on the requester (issue 22): the trainer of a GRAIL-style network in this tab.
 *
 * It warms the policy up on the task format (supervised, until its held-out accuracy reaches the job's
 * target), then runs rounds: it opens a `train` job for spec.providers volunteers, sends each linked one
 * the policy as a PULSE snapshot, and per step assigns every volunteer holding the current version its
 * prompts (the seeds follow from the round, its nonce and the volunteer's key), takes their rollouts as
 * they come (RlTrainer refuses what fails the cheap checks at once), and at the step's deadline verifies
 * the rest, learns from the accepted ones and publishes the next version as a PULSE patch, which its
 * volunteers relay to each other (version-relay.ts): the requester uploads it once whatever their number.
 * A volunteer the relay misses gets the patch from the requester; one that rebuilds another hash after
 * that gets the whole policy. A
 * volunteer that leaves costs only its rollouts; a late one's rollouts count in the next step with an
 * importance ratio. Every step's master weights are kept (the last few) in IndexedDB, so a reload resumes
 * from the last completed step and a collapse can be rolled back.
 */
import { messageOf } from '@shared/errors';
import {
  claimFromWire,
  decodeIds,
  encodePolicyPatch,
  type PolicyVersion,
  publishPolicy,
  REFUSE_TEXT,
  type RlShape,
  rlShape,
  RlTrainer,
  type RlTrainerOptions,
  type RlTrainerState,
  rlTaskSet,
  type RolloutClaim,
  type RolloutVerdict,
  type TaskSet,
  WARMUP_OVERSHOOT,
  warmUp,
  encodePolicySnapshot,
} from '@shared/jobs/rl';
import {
  decodeRlFromProvider,
  encodeRl,
  type RlFromProvider,
  type RlToProvider,
  RL_WIRE_VERSION,
  rolloutsFromBody,
} from '@shared/protocol';
import { ADAMW_DEFAULTS, newTrainState } from '@shared/train';
import type { PeerFactory, SignalingPort } from '../core/ports';
import { yieldToPage } from '../core/yield-to-page';
import type { ProviderLink } from '../requester/provider-links';
import { VolunteerLinks, Waiter } from '../requester/volunteer-links';
import { VersionRelay } from '../requester/version-relay';
import type { ReceiptOutbox } from '../requester/receipt-outbox';
import type { Identity } from '@shared/identity';
import {
  MAX_SAMPLES_SHOWN,
  type RlMaster,
  type RlRecord,
  type RlSample,
  type RlStatus,
  type RlStore,
} from './rl-store';
import { emptyProvider, type RlProviderRow, useRl } from './rl-view';

export interface RlRunDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  store: RlStore;
  /** The requester's key and the connection's outbox: accepted rollouts earn receipts (none without them). */
  identity?: Identity;
  receipts?: ReceiptOutbox;
}

/** A step waits at least this long for rollouts after its first provider's arrive (then 3× that time). */
const MIN_ROLLOUT_WAIT_MS = 5_000;
/** The first step waits this long for the wanted number of providers once one holds the policy. */
const GATHER_MS = 3_000;
/** A key refused in this many steps is reported to the server and dropped from the job. */
const REFUSED_STEPS_TO_DROP = 2;

interface Member {
  readonly link: ProviderLink;
  holds: string;
  /** Rounds it was refused in. */
  refusedRounds: Set<number>;
  /** The round it was last assigned and whether its rollouts for it arrived. */
  assigned: number;
  answered: boolean;
  seconds: number;
}

export class RlRun {
  private net: VolunteerLinks | null = null;
  private trainer: RlTrainer | null = null;
  private set!: TaskSet;
  private shape!: RlShape;
  private record: RlRecord;
  private readonly members = new Map<string, Member>();
  private readonly claims = new Map<string, RolloutClaim>();
  private paused = false;
  private ended = false;
  private readonly waiter = new Waiter(() => this.ended);
  private pendingRollback: number | null = null;
  private snapshot: { hash: string; bytes: Promise<Uint8Array> } | null = null;
  /** The last version's patch, which the relay's heads and fallbacks get. */
  private patch: { header: Omit<Extract<RlToProvider, { type: 'rl-patch' }>, 'relay'>; bytes: Uint8Array } | null =
    null;
  private readonly relay = new VersionRelay({
    sendPatch: (peerId, relay) => {
      const m = this.members.get(peerId);
      if (m && this.patch)
        this.send(
          m.link,
          relay.length ? { ...this.patch.header, relay: [...relay] } : this.patch.header,
          this.patch.bytes,
        );
    },
    sendNotice: (peerId) => {
      const m = this.members.get(peerId);
      if (m && this.patch) this.send(m.link, { ...this.patch.header, type: 'rl-relayed' });
    },
  });

  constructor(
    private readonly deps: RlRunDeps,
    record: RlRecord,
    private readonly jsonl: string | undefined,
  ) {
    this.record = record;
    this.paused = record.status === 'paused';
  }

  get id(): string {
    return this.record.spec.id;
  }

  /** Runs the job to its end (or until stopped); failures end in the record, never as a rejection. */
  async run(): Promise<void> {
    this.view((j) => ({ ...j, running: true }));
    try {
      await this.begin();
      await this.loop();
    } catch (error) {
      if (!this.ended) await this.finish('failed', messageOf(error));
    } finally {
      this.stop();
      this.view((j) => ({ ...j, running: false }));
    }
  }

  pause(): void {
    this.paused = true;
    void this.save({ status: 'paused', message: 'paused: the step in progress finishes, then none starts' });
    this.poke();
  }

  resume(): void {
    this.paused = false;
    void this.save({ status: this.trainer ? 'running' : 'warming', message: '' });
    this.poke();
  }

  async cancel(): Promise<void> {
    if (this.ended) return;
    await this.finish('cancelled', 'cancelled by you');
  }

  /** Publishes the kept version `version`'s weights as the next version (a reward collapse undone). */
  rollback(version: number): void {
    this.pendingRollback = version;
    this.poke();
  }

  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.relay.cancel();
    this.poke();
    this.net?.close('job stopped');
    this.trainer?.dispose();
  }

  private async finish(status: RlStatus, message: string): Promise<void> {
    await this.save({ status, message });
    this.stop();
    this.view((j) => ({ ...j, phase: message }));
  }

  private async save(change: Partial<RlRecord>): Promise<void> {
    this.record = { ...this.record, ...change };
    useRl.getState().put(this.record);
    await this.deps.store.save(this.record);
  }

  /** A record change that goes with a new version: stored in one transaction with its weights and state. */
  private async commit(change: Partial<RlRecord>, master: RlMaster, state?: RlTrainerState): Promise<void> {
    this.record = { ...this.record, ...change };
    useRl.getState().put(this.record);
    await this.deps.store.commit(this.record, master, state);
  }

  private view(
    change: (j: ReturnType<typeof useRl.getState>['jobs'][string]) => ReturnType<typeof useRl.getState>['jobs'][string],
  ) {
    useRl.getState().update(this.id, change);
  }

  private phase(text: string): void {
    this.view((j) => ({ ...j, phase: text }));
  }

  private poke(): void {
    this.waiter.poke();
  }

  private until(ready: () => boolean, ms: number): Promise<void> {
    return this.waiter.until(ready, ms);
  }

  private options(): RlTrainerOptions {
    const s = this.record.spec;
    return {
      task: this.set,
      config: this.shape.config,
      promptsPerProvider: s.promptsPerProvider,
      samples: s.samples,
      maxNew: this.shape.maxNew,
      temperature: s.temperature,
      hp: { ...ADAMW_DEFAULTS, lr: s.lr, weightDecay: 0 },
      maxProviders: s.providers,
      evalSize: Math.min(s.evalSize, this.set.eval.length),
      random: () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32,
    };
  }

  private async begin(): Promise<void> {
    const spec = this.record.spec;
    this.set = rlTaskSet(spec, this.jsonl);
    this.shape = rlShape(spec, this.set);
    const n = newTrainState(this.shape.config, ADAMW_DEFAULTS, spec.seed).params.length;
    let start = await this.deps.store.latest(spec.id, n);
    if (!start) {
      let master = newTrainState(this.shape.config, ADAMW_DEFAULTS, spec.seed).params;
      if (spec.warmupSteps > 0) {
        let accuracy = 0;
        await this.save({ status: this.paused ? 'paused' : 'warming', message: '' });
        const warm = await warmUp(
          master,
          {
            task: this.set,
            config: this.shape.config,
            lr: spec.warmupLr,
            batch: 32,
            maxSteps: spec.warmupSteps,
            evalEvery: 50,
            target: [spec.warmupTarget, Math.min(1, spec.warmupTarget + WARMUP_OVERSHOOT)],
            seed: spec.seed,
            evalSize: Math.min(spec.evalSize, 200),
          },
          async (p) => {
            if (p.accuracy !== undefined) accuracy = p.accuracy;
            this.phase(
              `warming up on the task format: step ${p.step} of at most ${spec.warmupSteps}, loss ${p.loss.toFixed(3)}, held-out accuracy ${(100 * accuracy).toFixed(0)}%`,
            );
            await yieldToPage();
            while (this.paused && !this.ended) await this.until(() => !this.paused, 60_000);
            if (this.ended) throw new Error('stopped');
          },
        ).catch((error: unknown) => {
          if (this.ended) return null;
          throw error;
        });
        if (!warm) return;
        master = warm.master;
        await this.save({ warmup: { steps: warm.steps, accuracy: warm.accuracy } });
      }
      start = { version: 0, master };
      await this.deps.store.saveMaster(spec.id, start);
    }
    this.trainer = await this.resumeTrainer(start.master, start.version);
    const policy = this.trainer.policy;
    if (this.record.accuracyBefore === null)
      await this.save({ accuracyBefore: this.trainer.evaluate(), modelBytes: 2 * policy.bf16.length });
    await this.save({ status: this.paused ? 'paused' : 'running', message: '' });
    this.view((j) => ({ ...j, version: policy.version, versionHash: policy.hash }));
    void this.deps.store.versions(spec.id).then((kept) => this.view((j) => ({ ...j, kept })));
    this.connect();
  }

  /** The trainer at a kept version, with the optimizer state saved with it when it is readable. */
  private async resumeTrainer(master: Float32Array, version: number): Promise<RlTrainer> {
    const state = await this.deps.store.state(this.id, version);
    if (state)
      try {
        return await RlTrainer.create(this.options(), master, version, state);
      } catch (error) {
        this.phase(`the saved optimizer state was not usable (${messageOf(error)}): AdamW restarts`);
      }
    return RlTrainer.create(this.options(), master, version);
  }

  private connect(): void {
    const { signaling, createPeer, identity, receipts } = this.deps;
    this.net = new VolunteerLinks({
      jobId: this.id,
      signaling,
      createPeer,
      ...(identity && receipts && { identity, receipts }),
      needs: () => {
        if (this.ended || !this.trainer) return null;
        const spec = this.record.spec;
        const modelBytes = 2 * this.trainer.policy.bf16.length;
        return { kind: 'train', maxProviders: spec.providers, units: spec.steps, modelBytes };
      },
      onOpen: (link) => void this.linked(link),
      onMessage: (link, bytes) => this.fromProvider(link, bytes),
      onLost: (link, reason) => this.lost(link, reason),
      onReceipt: {
        issued: () => this.view((j) => ({ ...j, receipts: j.receipts + 1 })),
        logged: (count) => this.view((j) => ({ ...j, receiptsLogged: j.receiptsLogged + count })),
        failed: (message) => this.phase(message),
      },
    });
  }

  private send(link: ProviderLink, header: RlToProvider, body?: Uint8Array): void {
    this.net?.send(link, encodeRl(header, body));
  }

  private provider(peerId: string, change: (p: RlProviderRow) => Partial<RlProviderRow>): void {
    this.view((j) => {
      const old = j.providers[peerId] ?? emptyProvider(peerId);
      return { ...j, providers: { ...j.providers, [peerId]: { ...old, ...change(old) } } };
    });
  }

  private async linked(link: ProviderLink): Promise<void> {
    const peerId = link.session.peerId;
    const policy = this.trainer!.policy;
    const again = this.members.get(peerId);
    this.members.set(peerId, {
      link,
      holds: '',
      refusedRounds: again?.refusedRounds ?? new Set(),
      assigned: -1,
      answered: false,
      seconds: 0,
    });
    const snapshot = await this.snapshotOf(policy);
    if (this.members.get(peerId)?.link !== link) return;
    this.send(
      link,
      {
        type: 'rl-start',
        v: RL_WIRE_VERSION,
        jobId: this.id,
        config: this.shape.config,
        providerKey: peerId,
        version: policy.version,
        versionHash: policy.hash,
      },
      snapshot,
    );
    this.provider(peerId, () => ({ status: 'joined' }));
  }

  private lost(link: ProviderLink, reason: string): void {
    const peerId = link.session.peerId;
    if (this.members.get(peerId)?.link !== link) return;
    this.members.delete(peerId);
    this.relay.left(peerId);
    this.provider(peerId, () => ({ status: `left (${reason})` }));
    this.poke();
  }

  private fromProvider(link: ProviderLink, bytes: Uint8Array): void {
    const peerId = link.session.peerId;
    const member = this.members.get(peerId);
    if (this.ended || member?.link !== link || !this.trainer) return;
    let m: { header: RlFromProvider; body: Uint8Array };
    try {
      m = decodeRlFromProvider(bytes);
    } catch (error) {
      this.net?.links.reject(peerId, `sent a malformed message (${messageOf(error)})`, true);
      return this.lost(link, 'malformed message');
    }
    const { header, body } = m;
    if (header.jobId !== this.id) return;
    switch (header.type) {
      case 'rl-ready': {
        member.holds = header.versionHash;
        const current = header.versionHash === this.trainer.policy.hash;
        const via = current ? this.relay.reported(peerId, `${header.version} ${header.versionHash}`) : null;
        this.provider(peerId, (p) => ({
          holds: header.versionHash,
          holdsVersion: header.version,
          backend: header.backend,
          status: `holds v${header.version}`,
          via: via ?? p.via,
        }));
        if (via) this.view((j) => ({ ...j, relay: this.relay.counts }));
        if (current) break;
        // One version behind: the patch itself (the relay missed it); anything else: the whole policy.
        const behind =
          this.patch?.header.versionHash === this.trainer.policy.hash &&
          this.patch.header.baseHash === header.versionHash;
        if (!behind || this.relay.mismatched(peerId) === 'snapshot') void this.sendSnapshot(member);
        break;
      }
      case 'rl-rollouts':
        this.rollouts(peerId, member, header, body);
        break;
      case 'rl-error':
        this.provider(peerId, () => ({ status: `cannot take part: ${header.message}` }));
        if (header.code === 'config') {
          void this.finish('failed', `a volunteer cannot run this job: ${header.message}`);
          return;
        }
        this.net?.links.release(peerId, header.message);
        this.members.delete(peerId);
        break;
    }
    this.poke();
  }

  /** The policy as a PULSE snapshot, encoded once per version for every volunteer that links or mismatches. */
  private snapshotOf(policy: PolicyVersion): Promise<Uint8Array> {
    if (this.snapshot?.hash !== policy.hash) this.snapshot = { hash: policy.hash, bytes: encodePolicySnapshot(policy) };
    return this.snapshot.bytes;
  }

  private async sendSnapshot(member: Member): Promise<void> {
    const policy = this.trainer!.policy;
    const bytes = await this.snapshotOf(policy);
    if (this.ended || this.trainer?.policy !== policy) return;
    this.send(
      member.link,
      { type: 'rl-snapshot', jobId: this.id, version: policy.version, versionHash: policy.hash },
      bytes,
    );
  }

  private rollouts(
    peerId: string,
    member: Member,
    header: Extract<RlFromProvider, { type: 'rl-rollouts' }>,
    body: Uint8Array,
  ): void {
    const trainer = this.trainer!;
    const claims: RolloutClaim[] = [];
    const verdicts: RolloutVerdict[] = [];
    let raw: unknown[];
    try {
      raw = rolloutsFromBody(body);
    } catch (error) {
      raw = [];
      verdicts.push(this.malformed(peerId, header.round, messageOf(error)));
    }
    for (const item of raw) {
      const c = claimFromWire(item);
      if (!c.ok) verdicts.push(this.malformed(peerId, header.round, c.error));
      // The claim's key is the link's, whatever it says: nobody submits in another's name.
      else if (c.claim.providerKey !== peerId)
        verdicts.push(this.malformed(peerId, header.round, 'claims another key'));
      else claims.push(c.claim);
    }
    for (const c of claims) this.claims.set(claimKey(c), c);
    verdicts.push(...trainer.submit(claims));
    if (header.round === member.assigned) {
      member.answered = true;
      member.seconds = header.seconds;
    }
    this.judged(verdicts);
  }

  private malformed(peerId: string, round: number, detail: string): RolloutVerdict {
    return {
      providerKey: peerId,
      round,
      promptIndex: -1,
      sample: -1,
      ok: false,
      reason: 'malformed',
      detail,
      checked: true,
    };
  }

  /** Counts verdicts per provider; a key refused in REFUSED_STEPS_TO_DROP rounds is dropped from the job. */
  private judged(verdicts: readonly RolloutVerdict[]): void {
    for (const v of verdicts) {
      this.provider(v.providerKey, (p) => {
        const reasons = v.ok ? p.reasons : { ...p.reasons, [v.reason!]: (p.reasons[v.reason!] ?? 0) + 1 };
        return {
          accepted: p.accepted + (v.ok ? 1 : 0),
          refused: p.refused + (v.ok ? 0 : 1),
          reasons,
          lastReason: v.ok ? p.lastReason : `${REFUSE_TEXT[v.reason!]}${v.detail ? ` (${v.detail})` : ''}`,
          firstRound: p.firstRound < 0 ? v.round : p.firstRound,
          firstRefused: !v.ok && p.firstRefused < 0 ? v.round : p.firstRefused,
          boundary: p.boundary + (v.boundaryTokens ?? 0),
          logprobGap: Math.max(p.logprobGap, v.logprobGap ?? 0),
        };
      });
      const member = this.members.get(v.providerKey);
      if (!v.ok && member) {
        member.refusedRounds.add(v.round);
        if (member.refusedRounds.size >= REFUSED_STEPS_TO_DROP) {
          this.net?.links.reject(v.providerKey, `rollouts refused in ${member.refusedRounds.size} rounds`, true);
          this.members.delete(v.providerKey);
          this.provider(v.providerKey, () => ({ status: 'dropped: rollouts refused in two rounds' }));
        }
      }
    }
  }

  private holders(): Member[] {
    const hash = this.trainer!.policy.hash;
    return [...this.members.values()].filter((m) => m.holds === hash);
  }

  private async loop(): Promise<void> {
    const spec = this.record.spec;
    let first = true;
    while (!this.ended && this.record.steps.length < spec.steps) {
      if (this.pendingRollback !== null) await this.applyRollback(this.pendingRollback);
      this.phase(this.paused ? 'paused' : `waiting for volunteers (${this.members.size} linked)`);
      await this.until(() => !this.paused && this.holders().length > 0, 60_000);
      if (this.ended) return;
      if (this.paused || this.holders().length === 0) continue;
      if (first) await this.until(() => this.holders().length >= spec.providers, GATHER_MS);
      // Volunteers still receiving the version (relayed, or sent it after the relay missed them) join this step.
      else await this.until(() => this.relay.settled || this.paused, this.relay.syncMs);
      first = false;
      await this.step();
    }
    if (this.ended) return;
    // The last version reaches every volunteer before the job closes its links.
    await this.until(() => this.relay.settled, this.relay.syncMs);
    if (!this.ended) await this.finish('done', `done: ${this.record.steps.length} steps`);
  }

  private async step(): Promise<void> {
    const trainer = this.trainer!;
    const spec = this.record.spec;
    const started = Date.now();
    const before = trainer.policy;
    const holders = this.holders();
    const { round, roundNonce, assignments } = trainer.openRound(holders.map((m) => m.link.session.peerId));
    for (const m of holders) {
      const peerId = m.link.session.peerId;
      const a = assignments.get(peerId);
      if (!a) continue;
      m.assigned = round;
      m.answered = false;
      m.seconds = 0;
      this.send(m.link, {
        type: 'rl-round',
        jobId: this.id,
        round,
        roundNonce,
        version: before.version,
        versionHash: before.hash,
        providerKey: peerId,
        prompts: [...a.prompts].map(([index, ids]) => ({ index, ids: [...ids] })),
        samples: a.samples,
        maxNew: a.maxNew,
        temperature: a.temperature,
      });
    }
    const step = this.record.steps.length + 1;
    this.phase(`step ${step} of ${spec.steps}: ${holders.length} volunteers rolling out`);
    const asked = () => holders.filter((m) => this.members.get(m.link.session.peerId) === m);
    await this.until(() => asked().some((m) => m.answered) || asked().length === 0, 10 * 60_000);
    const firstMs = Date.now() - started;
    await this.until(() => asked().every((m) => m.answered), Math.max(MIN_ROLLOUT_WAIT_MS, 3 * firstMs));
    if (this.ended) return;
    // Nobody delivered (every volunteer asked left, or all it sent was refused at once): no step is taken,
    // so a version is never spent on nothing; the next round asks whoever holds the policy then.
    if (trainer.pending === 0) return;
    this.phase(`step ${step} of ${spec.steps}: verifying and learning`);
    await yieldToPage();
    const result = await trainer.step();
    this.judged(result.verdicts.filter((v) => !v.ok));
    this.judged(result.verdicts.filter((v) => v.ok));
    const generateS = holders.reduce((s, m) => s + m.seconds, 0);
    this.issueReceipts(result.verdicts, this.record.steps.length, before.hash);
    await this.publish(before, result.policy, result.patch);
    const accuracy = trainer.evaluate();
    const samples = this.samples(result.verdicts, result.policy.version);
    // Claims that arrived while the step ran wait for the next one, which needs them for its receipts and samples.
    for (const v of result.verdicts) this.claims.delete(claimKey(v));
    await this.commit(
      {
        steps: [
          ...this.record.steps,
          {
            version: result.policy.version,
            meanReward: result.meanReward,
            accuracy,
            accepted: result.accepted,
            refused: result.refused,
            patchBytes: result.patch.length,
            clippedFraction: result.clippedFraction,
            verifyS: result.verifySeconds,
            trainS: result.trainSeconds,
            generateS,
            wallS: (Date.now() - started) / 1000,
          },
        ],
        samples: [...samples, ...this.record.samples].slice(0, MAX_SAMPLES_SHOWN),
      },
      { version: result.policy.version, master: trainer.master },
      trainer.exportState(),
    );
    const kept = await this.deps.store.versions(this.id);
    this.view((j) => ({ ...j, kept }));
  }

  /**
   * One receipt per volunteer per step with accepted rollouts (unit = the step's index: 0 .. steps − 1, inside
   * the units the job announced, which the server checks), worth the
   * forward FLOPs of the accepted tokens (2 · parameters · tokens) and naming the policy they sampled.
   */
  private issueReceipts(verdicts: readonly RolloutVerdict[], unit: number, policyHash: string): void {
    const receipts = this.net?.receipts;
    if (!receipts) return;
    const parameters = this.trainer!.policy.bf16.length;
    const tokens = new Map<string, number>();
    for (const v of verdicts) {
      const c = this.claims.get(claimKey(v));
      if (v.ok && c)
        tokens.set(v.providerKey, (tokens.get(v.providerKey) ?? 0) + c.prompt.length + c.completion.length);
    }
    for (const [peerId, n] of tokens) {
      const m = this.members.get(peerId);
      const durationMs = Math.round(1000 * (m?.seconds ?? 0));
      receipts.issue(peerId, unit, 2 * parameters * n, durationMs, m?.link.pairing?.network, policyHash);
    }
  }

  /**
   * Relays the patch to every volunteer holding `before`, the most trusted at the top of the tree; the
   * others get a snapshot when they report.
   */
  private async publish(before: PolicyVersion, policy: PolicyVersion, patch: Uint8Array): Promise<void> {
    this.view((j) => ({ ...j, version: policy.version, versionHash: policy.hash }));
    this.patch = {
      header: {
        type: 'rl-patch',
        jobId: this.id,
        version: policy.version,
        baseHash: before.hash,
        versionHash: policy.hash,
      },
      bytes: patch,
    };
    const rows = useRl.getState().jobs[this.id]?.providers ?? {};
    const trust = (peerId: string) => (rows[peerId]?.accepted ?? 0) - 1000 * (rows[peerId]?.refused ?? 0);
    const holders = [...this.members.values()]
      .filter((m) => m.holds === before.hash)
      .map((m) => m.link.session.peerId)
      .sort((a, b) => trust(b) - trust(a));
    // An update can leave the bf16 values, so the hash, as they were: the relay tells versions apart by number too.
    this.relay.publish(`${policy.version} ${policy.hash}`, holders);
    this.view((j) => ({ ...j, relay: this.relay.counts }));
  }

  private samples(verdicts: readonly RolloutVerdict[], version: number): RlSample[] {
    const out: RlSample[] = [];
    for (const v of verdicts) {
      const c = this.claims.get(claimKey(v));
      if (!v.ok || !c || out.length >= 4) continue;
      out.push({
        version,
        provider: v.providerKey,
        prompt: decodeIds(c.prompt).slice(0, 512),
        completion: decodeIds(c.completion).slice(0, 512),
        reward: v.reward ?? 0,
      });
    }
    return out;
  }

  private async applyRollback(to: number): Promise<void> {
    this.pendingRollback = null;
    const trainer = this.trainer!;
    const kept = await this.deps.store.master(this.id, to, trainer.master.length);
    if (!kept) {
      this.phase(`version ${to} is no longer kept: roll back to one listed`);
      return;
    }
    const before = trainer.policy;
    const version = before.version + 1;
    trainer.dispose();
    this.trainer = await RlTrainer.create(this.options(), kept.master, version);
    const policy = this.trainer.policy;
    await this.publish(before, policy, await encodePolicyPatch(before, await publishPolicy(version, kept.master)));
    await this.commit({ rollbacks: [...this.record.rollbacks, { at: version, to }] }, { version, master: kept.master });
    this.phase(`rolled back: version ${version} holds version ${to}'s weights`);
  }
}

function claimKey(c: { providerKey: string; round: number; promptIndex: number; sample: number }): string {
  return `${c.providerKey}\u0000${c.round}\u0000${c.promptIndex}\u0000${c.sample}`;
}
