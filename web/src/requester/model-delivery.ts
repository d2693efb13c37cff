/**
 * The job's model on its provider links: which version each unit is computed
 * with, what each provider has loaded, and what it is sent to get a version it
 * lacks (a JobModel transfer: PULSE patches from what it holds, or the
 * shortest chain from an anchor). A unit keeps the version it was first sent
 * with while any copy of it is out or any result of it waits for a check, so
 * replicas and spot checks compare like with like and nobody is rejected for
 * a switch; a unit sent afresh after a switch takes the new version.
 */
import { messageOf } from '@shared/errors';
import { PeerStream, type PeerHeader, type PeerHeaderOf } from '@shared/protocol';
import type { JobModel } from './job-model';

export interface VersionFigures {
  number: number;
  hash: string;
  /** Bytes sent to providers to bring them to this version (frames, patches, anchors, headers). */
  bytesSent: number;
  /** Linked providers that have it loaded now. */
  providers: number;
  /** Providers that loaded it during the job, gone ones included. */
  reached: number;
  /** Units accepted in this run of the job that were computed with it. */
  units: number;
}

export interface ModelDeliveryDeps {
  model: JobModel;
  send(peerId: string, header: PeerHeader, body?: Uint8Array, stream?: number): boolean;
  changed(): void;
  failed(message: string): void;
}

const outKey = (peerId: string, unitId: number) => `${peerId} ${unitId}`;

export class ModelDelivery {
  /** Each unit's version while it is being worked on. */
  private readonly tags = new Map<number, string>();
  /** Copies out, by provider and unit: the version each was sent with. */
  private readonly out = new Map<string, string>();
  /** Units with a result waiting for its check or its replicas. */
  private readonly pending = new Set<number>();
  /** Versions each provider has loaded. */
  private readonly loaded = new Map<string, Set<string>>();
  private readonly sentBytes = new Map<string, number>();
  private readonly reached = new Map<string, Set<string>>();
  private readonly accepted = new Map<string, number>();

  constructor(private readonly deps: ModelDeliveryDeps) {}

  get model(): JobModel {
    return this.deps.model;
  }

  /** The version to send `unitId` with to `peerId` now; recorded as out. */
  dispatch(peerId: string, unitId: number): string {
    const current = this.deps.model.current.hash;
    const tag = this.tags.get(unitId);
    const busy = this.pending.has(unitId) || [...this.out.keys()].some((k) => k.endsWith(` ${unitId}`));
    const version = tag && busy ? tag : current;
    this.tags.set(unitId, version);
    this.out.set(outKey(peerId, unitId), version);
    return version;
  }

  /** A result arrived: the version it had to be computed with (undefined if the unit was not out to this provider). */
  arrived(peerId: string, unitId: number): string | undefined {
    const version = this.out.get(outKey(peerId, unitId));
    this.out.delete(outKey(peerId, unitId));
    if (version) this.pending.add(unitId);
    return version;
  }

  /** A copy came back without a result (failed, declined, or its provider left). */
  returned(peerId: string, unitId: number): void {
    this.out.delete(outKey(peerId, unitId));
  }

  providerGone(peerId: string): void {
    for (const key of [...this.out.keys()]) if (key.startsWith(`${peerId} `)) this.out.delete(key);
    this.loaded.delete(peerId);
  }

  /** The version the unit's results are checked against. */
  versionOf(unitId: number): string {
    return this.tags.get(unitId) ?? this.deps.model.current.hash;
  }

  /** The unit was accepted: returns the version its result was computed with. */
  settled(unitId: number): string {
    const version = this.versionOf(unitId);
    this.accepted.set(version, (this.accepted.get(version) ?? 0) + 1);
    this.pending.delete(unitId);
    if (![...this.out.keys()].some((k) => k.endsWith(` ${unitId}`))) this.tags.delete(unitId);
    return version;
  }

  /** A provider loaded a version; true the first time it has any (it can take work now). */
  ready(peerId: string, hash: string): boolean {
    const set = this.loaded.get(peerId) ?? new Set<string>();
    const first = set.size === 0;
    set.add(hash);
    this.loaded.set(peerId, set);
    const reached = this.reached.get(hash) ?? new Set<string>();
    this.reached.set(hash, reached.add(peerId));
    this.deps.changed();
    return first;
  }

  /** The provider lacks `status.modelHash`: send it what builds that version from what it holds. */
  async requested(peerId: string, status: PeerHeaderOf<'model-status'>): Promise<void> {
    const { model } = this.deps;
    if (!model.has(status.modelHash))
      return void this.deps.send(peerId, { type: 'error', message: 'that is not a version of this job' });
    try {
      const transfer = await model.transfer(status.modelHash, status.held ?? [], status.frame ?? false);
      if (this.deps.send(peerId, transfer.header, transfer.body, PeerStream.model)) {
        const bytes = transfer.body.length + JSON.stringify(transfer.header).length;
        this.sentBytes.set(status.modelHash, (this.sentBytes.get(status.modelHash) ?? 0) + bytes);
        this.deps.changed();
      }
    } catch (error) {
      this.deps.failed(`could not send model version ${status.modelHash.slice(0, 8)}…: ${messageOf(error)}`);
    }
  }

  figures(): VersionFigures[] {
    const model = this.deps.model;
    const out: VersionFigures[] = [];
    for (let number = 1; number <= model.versionNumber; number++) {
      const hash = model.hashOf(number);
      const providers = [...this.loaded.values()].filter((s) => s.has(hash)).length;
      const reached = this.reached.get(hash)?.size ?? 0;
      const units = this.accepted.get(hash) ?? 0;
      out.push({ number, hash, bytesSent: this.sentBytes.get(hash) ?? 0, providers, reached, units });
    }
    return out;
  }
}
