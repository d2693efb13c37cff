/**
 * A job's model and the versions the requester published of it. The first
 * version is the uploaded model; each later one must be the same graph with
 * only weight values changed (versionMismatch names the tensor that is not).
 * The float weights form a PULSE chain (an anchor every few versions, a patch
 * from each version to the next), so a provider that holds an older version
 * receives only the patches from there, one that holds nothing the shortest
 * chain from an anchor; the frame travels whole, and only to a provider that
 * lacks it.
 */
import { encode, snapshot, type ChangeFinder, type PublishedEntry } from '@shared/pulse';
import { MAX_MODEL_ENTRIES, type PeerHeaderOf } from '@shared/protocol';
import { joinOnnx, versionMismatch, type ModelVersion } from '@shared/tensor';
import { planFrom, PublisherChain } from '../weights/chain';

export class ModelVersionError extends Error {
  override name = 'ModelVersionError';
}

export interface ModelTransfer {
  header: PeerHeaderOf<'model'>;
  body: Uint8Array;
  /** Bytes of PULSE entries (patches and anchors) in it, frame excluded. */
  weightsBytes: number;
}

interface Published {
  number: number;
  version: ModelVersion;
  onnx?: Uint8Array;
  anchor?: Uint8Array;
}

export class JobModel {
  private readonly chain: PublisherChain;
  private readonly published: Published[] = [];

  private constructor(findChanges?: ChangeFinder) {
    this.chain = new PublisherChain(findChanges);
  }

  /** The job's model from its first version, then every later version in order (a resumed job re-publishes them). */
  static async open(versions: readonly ModelVersion[], findChanges?: ChangeFinder): Promise<JobModel> {
    const model = new JobModel(findChanges);
    for (const version of versions) await model.publish(version);
    return model;
  }

  get current(): ModelVersion {
    return this.published.at(-1)!.version;
  }

  /** 1 for the uploaded model, then one more per published version. */
  get versionNumber(): number {
    return this.published.length;
  }

  get frameHash(): string {
    return this.published[0]!.version.frameHash;
  }

  hashOf(number: number): string {
    return this.published[number - 1]!.version.hash;
  }

  numberOf(hash: string): number | undefined {
    return this.find(hash)?.number;
  }

  has(hash: string): boolean {
    return this.find(hash) !== undefined;
  }

  /** The version as an .onnx file, for the requester's own checks. */
  onnx(hash: string): Uint8Array {
    const entry = this.require(hash);
    entry.onnx ??= joinOnnx(entry.version.parts);
    return entry.onnx;
  }

  /**
   * Makes `next` the current version. Refused, naming what differs, unless it
   * is the same graph with the same weight names, dtypes and shapes. The same
   * weights as the current version publish nothing.
   */
  async publish(next: ModelVersion): Promise<{ number: number; hash: string }> {
    this.check(next);
    const latest = this.published.at(-1);
    if (latest?.version.hash === next.hash) return { number: latest.number, hash: next.hash };
    await this.chain.publish(next.parts.weights);
    const entry = { number: this.published.length + 1, version: next };
    this.published.push(entry);
    return { number: entry.number, hash: next.hash };
  }

  /** Throws a ModelVersionError naming what differs unless `next` can be a new version of this model. */
  check(next: ModelVersion): void {
    const latest = this.published.at(-1);
    const mismatch = latest && versionMismatch(latest.version.parts, next.parts);
    if (mismatch) throw new ModelVersionError(`not a new version of this job's model: ${mismatch}`);
  }

  /**
   * What a provider needs to build `target` from what it said it holds: the
   * frame unless it has it, then the cheapest chain of PULSE entries from a
   * held version (or an anchor). A version whose patches the chain no longer
   * keeps goes as one full snapshot.
   */
  async transfer(target: string, held: readonly string[], hasFrame: boolean): Promise<ModelTransfer> {
    const entry = this.require(target);
    const heldWeights = held.flatMap((h) => {
      const v = this.find(h)?.version.weightsHash;
      return v ? [v] : [];
    });
    let path: { from: string | null; to: string; payload: Uint8Array }[];
    try {
      path = planFrom<PublishedEntry>(this.chain.catalog(), heldWeights, entry.version.weightsHash);
    } catch {
      path = [];
    }
    if (path.length === 0 || path.length > MAX_MODEL_ENTRIES) {
      entry.anchor ??= encode(await snapshot(entry.version.parts.weights));
      path = [{ from: null, to: entry.version.weightsHash, payload: entry.anchor }];
    }
    const frame = hasFrame ? new Uint8Array(0) : entry.version.parts.frame;
    const weightsBytes = path.reduce((sum, e) => sum + e.payload.length, 0);
    const body = new Uint8Array(frame.length + weightsBytes);
    body.set(frame, 0);
    let offset = frame.length;
    for (const e of path) {
      body.set(e.payload, offset);
      offset += e.payload.length;
    }
    return {
      header: {
        type: 'model',
        modelHash: target,
        frameBytes: frame.length,
        entries: path.map((e) => ({ from: e.from, to: e.to, byteLength: e.payload.length })),
      },
      body,
      weightsBytes,
    };
  }

  private find(hash: string): Published | undefined {
    return this.published.find((p) => p.version.hash === hash);
  }

  private require(hash: string): Published {
    const entry = this.find(hash);
    if (!entry) throw new ModelVersionError(`version ${hash.slice(0, 8)}… is not a version of this job's model`);
    return entry;
  }
}
