/**
 * The provider's side of a job's model versions. A version it holds is loaded
 * from the one model store; one it lacks is asked for, naming the versions of
 * the same model it does hold, and arrives as the frame (if missing) plus a
 * chain of PULSE entries. Every step is proven: each entry's base and result
 * by PULSE's hashes, the frame by its own, the version by both. A version that
 * fails its check is not stored and the provider stays on what it had; after a
 * failed patch it asks once for a full snapshot. Units name their version and
 * wait for it here.
 */
import { messageOf } from '@shared/errors';
import { type PeerHeader, type PeerHeaderOf, unpackEntries } from '@shared/protocol';
import { apply, decode, DEFAULT_LIMITS, hashToHex, type Model } from '@shared/pulse';
import { frameHashOf, versionOfParts } from '@shared/tensor';
import type { ComputeEngine } from '../core/ports';
import type { ModelStore } from '../storage/model-store';

/** Said when a unit's version did not arrive in time: the unit is declined, not failed. */
export const VERSION_MISSING = 'the model version this unit names did not arrive; declined';
/**
 * Versions kept loaded in the engine: the current one and the one before (units
 * sent just before a switch). An older one is unloaded; a unit that still names
 * it loads it again from the model store.
 */
export const MAX_LOADED_VERSIONS = 2;
/** How long a unit waits for its version: a 256 MiB model at WebRTC's ~20 MB/s takes ~13 s. */
export const VERSION_WAIT_MS = 60_000;

export interface VersionSession {
  modelHash?: string;
  frameHash?: string;
  view: { jobId: string };
}

export interface ProviderModelsDeps<S> {
  models: ModelStore;
  compute: ComputeEngine;
  reply(session: S, header: PeerHeader, body?: Uint8Array): void;
  state(session: S, change: { state?: 'fetching-model' | 'loading-model' | 'working'; modelCached?: boolean }): void;
  log(line: string): void;
}

const short = (hash: string) => `${hash.slice(0, 8)}…`;

class VersionCheckError extends Error {}

export class ProviderModels<S extends VersionSession> {
  /** Versions the compute engine has a session for, least recently used first. */
  private readonly loaded = new Set<string>();
  private readonly waiters = new Map<string, Set<(ok: boolean) => void>>();
  /** Versions asked for, per session: one request each until it arrives or fails. */
  private readonly asked = new WeakMap<S, Set<string>>();
  /** Versions a full snapshot was already asked for after a failed patch. */
  private readonly snapshotAsked = new Set<string>();

  constructor(private readonly deps: ProviderModelsDeps<S>) {}

  /** The requester named the job's current version: load it if held, ask for it if not. */
  async want(session: S, hash: string): Promise<void> {
    const cached = await this.deps.models.has(hash);
    this.deps.state(session, { state: cached ? 'loading-model' : 'fetching-model', modelCached: cached });
    if (cached && (await this.load(session, hash))) return;
    await this.ask(session, hash, false);
  }

  /** Whether the unit's version can run now; waits for one on its way (asking for it first). */
  async ready(session: S, hash: string): Promise<boolean> {
    if (this.loaded.delete(hash)) {
      this.loaded.add(hash);
      return true;
    }
    if ((await this.deps.models.has(hash)) && (await this.load(session, hash))) return true;
    const arrived = new Promise<boolean>((resolve) => {
      const set = this.waiters.get(hash) ?? new Set();
      set.add(resolve);
      this.waiters.set(hash, set);
      setTimeout(() => {
        set.delete(resolve);
        resolve(false);
      }, VERSION_WAIT_MS);
    });
    await this.ask(session, hash, false);
    return arrived;
  }

  /** A version arrived: check every step, store it, load it; on any failure keep what we had. */
  async receive(session: S, header: PeerHeaderOf<'model'>, body: Uint8Array): Promise<void> {
    const hash = header.modelHash;
    this.asked.get(session)?.delete(hash);
    this.deps.state(session, { state: 'loading-model' });
    try {
      const version = await this.build(session, header, body);
      await this.deps.models.put(version);
    } catch (error) {
      const patched = header.entries[0]?.from !== null;
      const kept = session.modelHash && this.loaded.has(session.modelHash) ? short(session.modelHash) : 'none';
      const message = `model version ${short(hash)} failed its check (${messageOf(error)}); kept version ${kept}`;
      this.deps.log(message);
      this.deps.reply(session, { type: 'error', message });
      if (patched && !this.snapshotAsked.has(hash)) {
        this.snapshotAsked.add(hash);
        return this.ask(session, hash, true);
      }
      this.settle(hash, false);
      if (kept !== 'none') this.deps.state(session, { state: 'working' });
      return;
    }
    await this.load(session, hash);
  }

  private async build(session: S, header: PeerHeaderOf<'model'>, body: Uint8Array) {
    const frameHash = session.frameHash;
    if (!frameHash) throw new VersionCheckError('no job names this model');
    const { models } = this.deps;
    const frame = header.frameBytes > 0 ? body.slice(0, header.frameBytes) : await models.frame(frameHash);
    if (!frame) throw new VersionCheckError('the frame was neither sent nor stored');
    if (header.frameBytes > 0 && (await frameHashOf(frame)) !== frameHash)
      throw new VersionCheckError('the frame does not match its hash');
    let weights: Model | null = null;
    const first = header.entries[0]!;
    if (first.from !== null) {
      weights = (await models.weightsByHash(frameHash, first.from)) ?? null;
      if (!weights) throw new VersionCheckError(`the patch starts from weights ${short(first.from)}, not held here`);
    }
    for (const entry of unpackEntries(header.entries, body.subarray(header.frameBytes))) {
      const patch = decode(entry.payload, DEFAULT_LIMITS);
      const from = patch.baseHash && hashToHex(patch.baseHash);
      if (from !== entry.from || hashToHex(patch.resultHash) !== entry.to)
        throw new VersionCheckError('a patch is not the step its header names');
      // apply proves the result against the patch's result hash.
      weights = await apply(weights, patch);
    }
    const version = await versionOfParts({ frame, weights: weights! });
    if (version.hash !== header.modelHash)
      throw new VersionCheckError(`it builds version ${short(version.hash)}, not ${short(header.modelHash)}`);
    return version;
  }

  private async ask(session: S, hash: string, snapshot: boolean): Promise<void> {
    const asked = this.asked.get(session) ?? new Set<string>();
    this.asked.set(session, asked);
    if (asked.has(hash)) return;
    asked.add(hash);
    const frameHash = session.frameHash;
    const held = snapshot || !frameHash ? [] : (await this.deps.models.held(frameHash)).slice(0, 8);
    const frame = frameHash ? await this.deps.models.hasFrame(frameHash) : false;
    this.deps.reply(session, { type: 'model-status', modelHash: hash, cached: false, held, frame });
  }

  private async load(session: S, hash: string): Promise<boolean> {
    const started = performance.now();
    if (!this.loaded.has(hash)) {
      const bytes = await this.deps.models.onnx(hash);
      if (!bytes) return false;
      await this.deps.compute.load(hash, bytes);
      this.loaded.add(hash);
      for (const old of this.loaded) {
        if (this.loaded.size <= MAX_LOADED_VERSIONS) break;
        this.loaded.delete(old);
        await this.deps.compute.unload?.(old);
      }
    }
    this.deps.state(session, { state: 'working' });
    this.deps.reply(session, { type: 'ready', modelHash: hash, loadMs: performance.now() - started });
    this.settle(hash, true);
    return true;
  }

  private settle(hash: string, ok: boolean): void {
    for (const resolve of this.waiters.get(hash) ?? []) resolve(ok);
    this.waiters.delete(hash);
  }
}
