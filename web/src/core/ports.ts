/**
 * The small interfaces the provider and requester cores depend on. Browser
 * adapters (WebSocket signaling client, simple-peer + framed channel, the
 * onnxruntime-web worker, idb-keyval) implement them; tests use in-memory
 * doubles. Nothing here imports React or touches the DOM.
 */
import type { Backend, ClientMessage, ServerMessageOf, SignalPayload } from '@shared/protocol';
import type { RawTensor } from '@shared/protocol';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SignalingEvents {
  state: ConnectionState;
  welcome: ServerMessageOf<'welcome'>;
  matched: ServerMessageOf<'matched'>;
  unmatched: ServerMessageOf<'unmatched'>;
  signal: ServerMessageOf<'signal'>;
  error: ServerMessageOf<'error'>;
  'receipts-ack': ServerMessageOf<'receipts-ack'>;
  'display-name-ack': ServerMessageOf<'display-name-ack'>;
}

export interface SignalingPort {
  send(message: ClientMessage): void;
  on<K extends keyof SignalingEvents>(event: K, handler: (value: SignalingEvents[K]) => void): () => void;
}

/** A reliable, ordered, message-framed link to one peer with numbered streams. */
export interface MessageLink {
  send(stream: number, bytes: Uint8Array): Promise<void>;
  onMessage(handler: (stream: number, bytes: Uint8Array) => void): void;
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

export interface PeerHandle {
  /** Feed a handshake blob that arrived from the other side through signaling. */
  signal(payload: SignalPayload): void;
  /** Resolves once the data channel is open; rejects if the connection fails. */
  ready: Promise<MessageLink>;
  close(): void;
}

export type PeerFactory = (options: { initiator: boolean; onSignal: (payload: SignalPayload) => void }) => PeerHandle;

/** Runs models. One engine runs one unit at a time. */
export interface ComputeEngine {
  readonly backend: Backend;
  load(modelHash: string, modelBytes: Uint8Array): Promise<void>;
  run(modelHash: string, inputs: RawTensor[]): Promise<RawTensor[]>;
  /** Frees a loaded model's session (optional: engines without it keep every model they loaded). */
  unload?(modelHash: string): Promise<void>;
}

/** One peer link as an extension sees it: the other side, the job, and a way to send on the extension's stream. */
export interface ExtensionChannel {
  peerId: string;
  jobId: string;
  send(bytes: Uint8Array): Promise<void>;
}

/**
 * A feature that rides the job's peer links without the job cores knowing it
 * (PULSE weight distribution). It sees links open and close, and receives every
 * message on PeerStream.weights; everything else stays with the core.
 */
export interface LinkExtension {
  attach(channel: ExtensionChannel): void;
  receive(peerId: string, jobId: string, bytes: Uint8Array): void;
  detach(peerId: string, jobId: string): void;
}
