/**
 * Carries out a batch-inference job's coordinator commands, in order: a
 * `send` goes out on the provider's link with the unit's model version, a
 * `check` re-runs the unit on this device, an `accept` is written and earns
 * its providers receipts, a `reject` reports and releases the provider. What
 * to do is the coordinator's; this only does it, and tells the view and the
 * job's history what happened.
 */
import { PeerStream, type RawTensor } from '@shared/protocol';
import type { CoordinatorCommand, InferenceResult, JobCoordinator, JobKind } from '@shared/jobs';
import type { JobStatus } from '../storage/job-store';
import type { InferenceWire } from './inference-wire';
import type { JobReceipts } from './job-receipts';
import type { JobRecorder } from './job-recorder';
import type { JobViewModel } from './job-view';
import type { LocalChecks } from './local-checks';
import type { ModelDelivery } from './model-delivery';
import type { ProviderLinks } from './provider-links';
import type { ResultWriter } from './result-writer';

export interface JobCommandsDeps {
  coordinator(): JobCoordinator<InferenceResult>;
  kind: JobKind<RawTensor[], InferenceResult>;
  links: ProviderLinks;
  wire: InferenceWire;
  delivery: ModelDelivery;
  results: ResultWriter;
  receipts: JobReceipts;
  /** The requester's own engine; the coordinator asks for checks only when there is one. */
  checks?: LocalChecks;
  view: JobViewModel;
  recorder(): JobRecorder | undefined;
  /** Whether a caught provider is reported to the server (the keyed network, where reports count). */
  report: boolean;
  closed(): boolean;
  stop(status: JobStatus, message: string): void;
  /** Every unit is accepted and written: the job is done. */
  finish(): Promise<void>;
  refresh(): void;
}

export class JobCommands {
  constructor(private readonly deps: JobCommandsDeps) {}

  /** Carries out the coordinator's commands, in order. */
  exec(commands: CoordinatorCommand<InferenceResult>[]): void {
    const { links, view, delivery } = this.deps;
    for (const c of commands) {
      switch (c.type) {
        case 'send': {
          if (!links.get(c.peerId) || this.deps.closed()) break;
          this.deps.recorder()?.sent(c.peerId, c.unitId);
          const { header, body } = this.deps.wire.unitMessage(c.unitId, delivery.dispatch(c.peerId, c.unitId));
          links.sendTo(c.peerId, header, body, PeerStream.work);
          break;
        }
        case 'check':
          this.checkLocally(c.unitId);
          break;
        case 'accept': {
          const version = delivery.settled(c.unitId);
          for (const p of c.providers) this.credit(p, c.unitId, version);
          void this.store(c.unitId, c.result, version);
          break;
        }
        case 'credit':
          this.credit(c.peerId, c.unitId, delivery.versionOf(c.unitId));
          break;
        case 'reject':
          this.rejected(c.peerId, c.reason, c.rerun.length > 0);
          break;
        case 'disagreement':
          view.patch({ message: `replicas of unit ${c.unitId} disagreed; asking another provider` });
          break;
        case 'drop':
          this.deps.recorder()?.declined(c.peerId, c.reason);
          view.setProvider(c.peerId, { state: 'declined', note: c.reason });
          links.release(c.peerId, c.reason);
          break;
        case 'duplicate':
          break;
        case 'fail':
          this.deps.stop('failed', c.reason);
          this.deps.refresh(); // nothing is in flight once it failed
          return;
      }
    }
    this.deps.refresh();
  }

  /** SPEC TRUST-A1, TRUST-Q2: the requester's own engine re-runs the unit. */
  private checkLocally(unitId: number): void {
    const checks = this.deps.checks!;
    checks.run(
      this.deps.delivery.versionOf(unitId),
      () => this.deps.kind.unit(unitId),
      (outcome) => {
        if (this.deps.closed()) return;
        if (outcome.ok) {
          const commands = this.deps.coordinator().checkDone(unitId, outcome.outputs, checks.adapterClass);
          this.deps.recorder()?.checked(unitId, !commands.some((c) => c.type === 'reject'));
          return this.exec(commands);
        }
        // Our own engine failed: that says nothing about the provider. Accept unchecked and say so.
        this.deps.view.patch({ message: `spot check could not run locally: ${outcome.message}` });
        this.exec(this.deps.coordinator().checkUnavailable(unitId));
      },
    );
  }

  /** Reported, released, its link closed; units it alone vouched for are persisted to run again. */
  private rejected(peerId: string, reason: string, rerun: boolean): void {
    this.deps.recorder()?.rejected(peerId, reason);
    this.deps.view.setProvider(peerId, { state: 'rejected', note: reason });
    this.deps.links.reject(peerId, reason, this.deps.report);
    // Persisted first: a reload before these are computed again must not take their stored results as final.
    if (rerun) void this.deps.results.persistRerun();
  }

  /** The accepted unit's result is written; the last write to land finishes the job (before it, a reload could lose one). */
  private async store(unitId: number, outputs: RawTensor[], modelHash: string): Promise<void> {
    const { results } = this.deps;
    await results.write(unitId, outputs, modelHash);
    if (this.deps.coordinator().complete && !this.deps.closed() && results.pending === 0) await this.deps.finish();
  }

  /** One receipt per accepted unit, and the provider's figures in the view. */
  private credit(peerId: string, unitId: number, version: string): void {
    const link = this.deps.links.get(peerId);
    if (!link) return;
    link.reconnects = 0;
    this.deps.recorder()?.credited(peerId, unitId);
    this.deps.view.unitCredited(peerId, link.computeMsTotal);
    const durationMs = link.computeMs.get(unitId) ?? 0;
    link.computeMs.delete(unitId);
    this.deps.receipts.issue(peerId, unitId, this.deps.kind.flops(unitId), durationMs, link.pairing?.network, version);
  }
}
