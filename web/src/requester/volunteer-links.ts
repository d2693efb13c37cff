/**
 * What a job that many volunteers work on together (training together, RL) needs from the network on the
 * requester's side, in one place: the `train` job opened on the server (again after every welcome), the
 * links to the volunteers it pairs (ProviderLinks), their messages on the train stream, the receipts for
 * accepted work through the connection's outbox, and the job closed when it ends. The job kind keeps only
 * its own decisions.
 */
import type { Identity } from '@shared/identity';
import { type JobNeeds, PeerStream } from '@shared/protocol';
import type { PeerFactory, SignalingPort } from '../core/ports';
import { JobReceipts } from './job-receipts';
import { type ProviderLink, ProviderLinks } from './provider-links';
import type { ReceiptOutbox } from './receipt-outbox';

export interface VolunteerLinksDeps {
  readonly jobId: string;
  readonly signaling: SignalingPort;
  readonly createPeer: PeerFactory;
  /** The requester's key and the connection's outbox: without them no receipts are issued. */
  readonly identity?: Identity;
  readonly receipts?: ReceiptOutbox;
  /** What the job asks the server for now (null: nothing to open yet, or any more). */
  needs(): JobNeeds | null;
  onOpen(link: ProviderLink): void;
  onMessage(link: ProviderLink, bytes: Uint8Array): void;
  onLost(link: ProviderLink, reason: string): void;
  /** Receipts signed, taken by the server's log, or failed (what the dashboard counts and says). */
  onReceipt?: { issued(): void; logged(count: number): void; failed(message: string): void };
}

export class VolunteerLinks {
  readonly links: ProviderLinks;
  /** Null without an identity and outbox. */
  readonly receipts: JobReceipts | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(private readonly deps: VolunteerLinksDeps) {
    const { jobId, signaling, createPeer, identity, receipts, onReceipt } = deps;
    if (identity && receipts) {
      if (onReceipt) this.unsubscribe.push(receipts.onLogged(jobId, (count) => onReceipt.logged(count)));
      this.receipts = new JobReceipts({
        jobId,
        identity,
        outbox: receipts,
        sendTo: (peerId, header) => void this.links.sendTo(peerId, header),
        issued: () => onReceipt?.issued(),
        failed: (message) => onReceipt?.failed(message),
      });
    }
    this.links = new ProviderLinks({
      jobId,
      signaling,
      createPeer,
      onConnecting: () => {},
      onOpen: (link) => deps.onOpen(link),
      onMessage: (link, bytes) => deps.onMessage(link, bytes),
      onLost: (link, reason) => deps.onLost(link, reason),
      wants: () => !this.closed,
    });
    const mine = (m: { jobId: string }) => m.jobId === jobId;
    const links = this.links;
    this.unsubscribe.push(
      signaling.on('welcome', () => this.open()),
      signaling.on(
        'matched',
        (m) => mine(m) && links.matched(m.peerId, m.capabilities, { session: m.session, network: m.network }),
      ),
      signaling.on('unmatched', (m) => mine(m) && links.unmatched(m.peerId, m.reason)),
      signaling.on('signal', (s) => mine(s) && links.signal(s.from, s.payload)),
    );
    this.open();
  }

  /** Opens (or updates) the job on the server with what it needs now. */
  open(): void {
    const needs = this.closed ? null : this.deps.needs();
    if (needs) this.deps.signaling.send({ type: 'job-open', jobId: this.deps.jobId, needs });
  }

  /** A message on the train stream of `link`. */
  send(link: ProviderLink, bytes: Uint8Array): void {
    this.links.sendBytes(link, bytes, PeerStream.train);
  }

  /** Closes every link and the job on the server; nothing is opened again. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.links.closeAll(reason);
    this.deps.signaling.send({ type: 'job-close', jobId: this.deps.jobId });
  }
}

/** A loop that waits for its volunteers' answers: `until` sleeps until `poke` or a deadline. */
export class Waiter {
  private wake: (() => void) | null = null;

  constructor(private readonly ended: () => boolean) {}

  poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits until `ready()` or `ms` pass (or the run ends), checking at least every 250 ms. */
  async until(ready: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!ready() && !this.ended() && Date.now() < end) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(250, Math.max(0, end - Date.now())));
      });
    }
  }
}
