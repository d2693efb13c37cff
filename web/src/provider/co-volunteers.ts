/**
 * A volunteer's direct links to the other volunteers of its job (net/co-links.ts), over which new versions
 * of a training or RL job are relayed (shared/src/protocol/relay.ts). What arrives on the train stream goes
 * to the job kind it belongs to, which takes only what its requester announced.
 */
import { messageOf } from '@shared/errors';
import { isRlMessage, isTogetherMessage, PeerStream, splitRelay } from '@shared/protocol';
import type { PeerFactory, SignalingPort } from '../core/ports';
import { CoLinks } from '../net/co-links';

/** A job kind that takes versions relayed by co-volunteers. */
export interface RelayReceiver {
  relayed(jobId: string, from: string, bytes: Uint8Array): void;
}

/** Sends a message to a co-volunteer of a job (CoVolunteers.forward). */
export type ForwardFn = (jobId: string, peerId: string, bytes: Uint8Array) => Promise<void>;

/**
 * Passes a patch just applied down its relay list: to each head, the same message naming that head's share of
 * the rest (`encode` makes it). Not awaited by the caller: a failure is only logged, and the requester's
 * deadline sends the patch to whoever it missed.
 */
export function forwardDown(
  send: ForwardFn | undefined,
  jobId: string,
  relay: readonly string[] | undefined,
  encode: (share: string[]) => Uint8Array,
  done: { forwarded(): void; failed(peerId: string, reason: string): void },
): void {
  if (!send) return;
  for (const branch of splitRelay(relay ?? []))
    send(jobId, branch.peerId, encode([...branch.relay])).then(
      () => done.forwarded(),
      (error: unknown) => done.failed(branch.peerId, messageOf(error)),
    );
}

export class CoVolunteers {
  private readonly links: CoLinks;
  private receivers: { rl?: RelayReceiver; together?: RelayReceiver } = {};

  constructor(signaling: SignalingPort, createPeer: PeerFactory) {
    this.links = new CoLinks({
      signaling,
      createPeer,
      onMessage: (peerId, jobId, stream, bytes) => {
        if (stream !== PeerStream.train) return;
        if (isRlMessage(bytes)) this.receivers.rl?.relayed(jobId, peerId, bytes);
        else if (isTogetherMessage(bytes)) this.receivers.together?.relayed(jobId, peerId, bytes);
      },
    });
  }

  /** Sends a train-stream message to co-volunteer `peerId` of `jobId`, opening the link if needed. */
  readonly forward = async (jobId: string, peerId: string, bytes: Uint8Array): Promise<void> => {
    const link = await this.links.connect(jobId, peerId);
    await link.send(PeerStream.train, bytes);
  };

  /** Starts answering co-volunteers' signals (before the provider starts, so no offer is missed). */
  serve(receivers: { rl?: RelayReceiver; together?: RelayReceiver }): void {
    this.receivers = receivers;
    this.links.start();
  }

  stop(): void {
    this.links.stop();
  }
}
