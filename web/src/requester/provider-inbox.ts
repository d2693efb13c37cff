/**
 * What a provider's link and messages mean to a batch-inference job: a
 * pairing is admitted or not, a link's loss and each message (decoded; a
 * malformed one excludes its sender) become the coordinator's event and the
 * view's update, and the coordinator's answer is handed back to the runner to
 * carry out. Results are read by the wire (shape, signature, version) before
 * the coordinator sees them.
 */
import { messageOf } from '@shared/errors';
import type { CoordinatorCommand, InferenceResult, JobCoordinator } from '@shared/jobs';
import { decodePeerMessage, type PeerHeader, type PeerHeaderOf, type ServerMessageOf } from '@shared/protocol';
import type { InferenceWire } from './inference-wire';
import type { JobRecorder } from './job-recorder';
import type { JobViewModel } from './job-view';
import type { ModelDelivery } from './model-delivery';
import type { ProviderLink } from './provider-links';

export interface ProviderInboxDeps {
  coordinator(): JobCoordinator<InferenceResult>;
  view: JobViewModel;
  delivery: ModelDelivery;
  wire: InferenceWire;
  recorder(): JobRecorder | undefined;
  exec(commands: CoordinatorCommand<InferenceResult>[]): void;
  refresh(): void;
  closed(): boolean;
}

export class ProviderInbox {
  constructor(private readonly deps: ProviderInboxDeps) {}

  /** Whether a provider the server paired is linked; its capabilities are shown either way. */
  admit({ peerId, capabilities }: ServerMessageOf<'matched'>): boolean {
    const { view } = this.deps;
    if (capabilities) view.setProvider(peerId, { backend: capabilities.backend, gflops: capabilities.gflops });
    // SPEC TRUST-P2: a key caught here or in an earlier job (the book is persisted) gets no work.
    return !view.isSettled(peerId) && !this.deps.coordinator().isExcluded(peerId);
  }

  /** The link to a provider ended: its units go back to the queue. */
  lost(link: ProviderLink, reason: string): void {
    const { peerId } = link.session;
    this.deps.recorder()?.left(peerId, reason);
    if (!this.deps.view.isSettled(peerId)) this.deps.view.setProvider(peerId, { state: 'gone', note: reason });
    this.deps.delivery.providerGone(peerId);
    this.deps.exec(this.deps.coordinator().providerGone(peerId));
  }

  receive(link: ProviderLink, bytes: Uint8Array): void {
    const { peerId } = link.session;
    let message: { header: PeerHeader; body: Uint8Array };
    try {
      message = decodePeerMessage(bytes);
    } catch (error) {
      return this.deps.exec(this.deps.coordinator().refuse(peerId, `sent a malformed message: ${messageOf(error)}`));
    }
    const { header, body } = message;
    switch (header.type) {
      case 'model-status':
        if (this.deps.view.provider(peerId)?.state !== 'working')
          this.deps.view.setProvider(peerId, {
            modelCached: header.cached,
            state: header.cached ? 'loading-model' : 'sending-model',
          });
        if (!header.cached) void this.deps.delivery.requested(peerId, header);
        return this.deps.refresh();
      case 'ready':
        this.deps.view.setProvider(peerId, { state: 'working' });
        if (!this.deps.delivery.ready(peerId, header.modelHash)) return;
        return this.deps.exec(this.deps.coordinator().providerReady(peerId, link.adapterClass));
      case 'result':
        return void this.result(link, header, body);
      case 'unit-error': {
        // A unit declined by a paused provider is not a failure of anyone's.
        const error = header.declined ? undefined : header.message;
        const failed = (this.deps.view.provider(peerId)?.unitsFailed ?? 0) + (error ? 1 : 0);
        this.deps.view.setProvider(peerId, { unitsFailed: failed, note: header.message });
        this.deps.delivery.returned(peerId, header.unitId);
        return this.deps.exec(this.deps.coordinator().unitFailed(peerId, header.unitId, error));
      }
      case 'paused':
        // Resumed: the note it left when pausing ("provider paused") no longer holds.
        this.deps.view.setProvider(peerId, header.paused ? { state: 'paused' } : { state: 'working', note: undefined });
        if (!header.paused) return this.deps.exec(this.deps.coordinator().providerReady(peerId, link.adapterClass));
        this.deps.coordinator().providerPaused(peerId);
        return this.deps.refresh();
      case 'error':
        this.deps.view.setProvider(peerId, { note: header.message });
        // It cannot load the model: it takes no units and is not counted as faulty.
        if (header.declined) return this.deps.exec(this.deps.coordinator().providerDeclined(peerId, header.message));
        return this.deps.refresh();
      default:
        return this.deps.exec(
          this.deps.coordinator().refuse(peerId, `sent "${header.type}", which only requesters send`),
        );
    }
  }

  private async result(link: ProviderLink, header: PeerHeaderOf<'result'>, body: Uint8Array): Promise<void> {
    const { unitId, computeMs } = header;
    const { peerId } = link.session;
    if (!this.deps.coordinator().holds(peerId, unitId)) return; // not ours to answer (late after a re-pair): ignore
    const version = this.deps.delivery.arrived(peerId, unitId);
    const reading = await this.deps.wire.readResult(peerId, header, body, link.pairing, version);
    if (this.deps.closed()) return;
    if (!reading.ok) return this.deps.exec(this.deps.coordinator().refuse(peerId, reading.reason, unitId));
    link.computeMs.set(unitId, computeMs);
    link.computeMsTotal += computeMs;
    this.deps.exec(this.deps.coordinator().resultArrived(peerId, unitId, reading.outputs));
  }
}
