/**
 * Batch inference on the peer wire, the requester's side: what a unit message
 * carries, and what a result message must be before the coordinator sees it —
 * tensors that unpack, of the shapes the model gives, signed by the
 * provider's key over the unit's inputs and outputs (SPEC TRUST-S2).
 */
import { messageOf } from '@shared/errors';
import type { Identity } from '@shared/identity';
import { hashTensors, type InferenceResult, type JobKind, type JobSpec } from '@shared/jobs';
import {
  PEER_PROTOCOL_VERSION,
  packTensors,
  unpackTensors,
  type JobNeeds,
  type PeerHeaderOf,
  type RawTensor,
} from '@shared/protocol';
import { verifySignedResult } from '@shared/trust';
import type { JobModel } from './job-model';

export type ResultReading = { ok: true; outputs: InferenceResult } | { ok: false; reason: string };

export class InferenceWire {
  private readonly jobId: string;

  constructor(
    private readonly spec: JobSpec,
    private readonly model: JobModel,
    private readonly kind: JobKind<RawTensor[], InferenceResult>,
    /** On the keyed network results must be signed; without a key they are not checked. */
    private readonly identity: Identity | undefined,
  ) {
    this.jobId = spec.id;
  }

  /** What the job asks of the matchmaker. */
  needs(): JobNeeds {
    const maxProviders = Math.max(this.spec.maxProviders, this.spec.redundancy);
    return { kind: 'inference', maxProviders, units: this.kind.units, modelBytes: this.spec.model.bytes };
  }

  /** The first message on a new link, and again to every link when a new version is published: which job, which model version. */
  jobMessage(): PeerHeaderOf<'job'> {
    const { hash, frameHash } = this.model.current;
    const modelBytes = this.spec.model.bytes;
    return { type: 'job', v: PEER_PROTOCOL_VERSION, jobId: this.jobId, modelHash: hash, frameHash, modelBytes };
  }

  unitMessage(unitId: number, modelHash: string): { header: PeerHeaderOf<'unit'>; body: Uint8Array } {
    const packed = packTensors(this.kind.unit(unitId));
    return { header: { type: 'unit', jobId: this.jobId, unitId, modelHash, inputs: packed.refs }, body: packed.body };
  }

  /** The result's outputs, or why the provider that sent it is at fault. */
  async readResult(
    provider: string,
    header: PeerHeaderOf<'result'>,
    body: Uint8Array,
    pairing: { session: string; network: string } | undefined,
    /** The version the unit was sent with: a result of any other is not an answer to it. */
    version: string | undefined,
  ): Promise<ResultReading> {
    const { unitId } = header;
    if (header.modelHash !== version)
      return {
        ok: false,
        reason: `answered unit ${unitId} with model version ${header.modelHash.slice(0, 8)}…, not the one it was sent`,
      };
    let outputs: RawTensor[];
    try {
      outputs = unpackTensors(header.outputs, body);
    } catch (error) {
      return { ok: false, reason: `sent a malformed result: ${messageOf(error)}` };
    }
    const shapeError = this.kind.validate(unitId, outputs);
    if (shapeError) return { ok: false, reason: `returned a wrong shape for unit ${unitId}: ${shapeError}` };
    if (!this.identity) return { ok: true, outputs };
    const [inputHash, resultHash] = await Promise.all([hashTensors(this.kind.unit(unitId)), hashTensors(outputs)]);
    const requester = this.identity.peerId;
    const expected = { ...pairing, requester, provider, jobId: this.jobId, unitId, inputHash, resultHash };
    // SPEC BIND2: a signature binds the pairing's session and network; without a pairing nothing can match.
    const check = !header.signed
      ? ({ ok: false, reason: 'unsigned' } as const)
      : pairing
        ? await verifySignedResult(header.signed, { ...expected, ...pairing })
        : ({ ok: false, reason: 'wrong-session' } as const);
    return check.ok
      ? { ok: true, outputs }
      : { ok: false, reason: `result for unit ${unitId} dropped: ${check.reason}` };
  }
}
