/**
 * The browser adapters behind the cores' ports: the WebSocket signaling
 * client, simple-peer + framed channel, the onnxruntime-web worker and
 * IndexedDB. This is the only place where the cores meet browser APIs.
 */
import type { Identity } from '@shared/identity';
import type { RawTensor } from '@shared/protocol';
import { rawFromTensor, tensorFromRaw } from '@shared/protocol';
import type { Backend, Role } from '@shared/protocol';
import type { TensorMap } from '@shared/tensor';
import { ComputeWorker } from '../compute';
import type {
  ComputeEngine,
  ConnectionState,
  MessageLink,
  PeerFactory,
  SignalingEvents,
  SignalingPort,
} from '../core/ports';
import { signalingUrls, SignalingClient } from '../net/signaling-client';
import { createPeer } from '../transport';
import type { FramedChannel } from '../transport';

export function connectSignaling(role: Role, identity: Identity): { client: SignalingClient; port: SignalingPort } {
  const client = new SignalingClient({
    url: signalingUrls(location),
    role,
    identity,
    WebSocket: WebSocket as unknown as ConstructorParameters<typeof SignalingClient>[0]['WebSocket'],
    client: 'web/0.1',
  });
  const port: SignalingPort = {
    send: (message) => void client.send(message),
    on<K extends keyof SignalingEvents>(event: K, handler: (value: SignalingEvents[K]) => void) {
      if (event === 'state') {
        return client.on('state', (state) =>
          (handler as (s: ConnectionState) => void)(state === 'idle' ? 'connecting' : state),
        );
      }
      return client.on(event as Exclude<K, 'state'>, handler as never);
    },
  };
  return { client, port };
}

function messageLink(framed: FramedChannel): MessageLink {
  return {
    send: (stream, bytes) => framed.send(stream, bytes),
    onMessage: (handler) => void framed.onMessage((m) => handler(m.stream, m.bytes)),
    onClose: (handler) => void framed.onClose((error) => handler(error?.message ?? 'closed')),
    close: () => framed.close(),
  };
}

/** WebRTC peers; ICE servers come from the signaling server's welcome at the time each peer is made. */
export function webrtcPeers(client: SignalingClient): PeerFactory {
  return ({ initiator, onSignal }) => {
    const peer = createPeer({ initiator, onSignal, iceServers: client.iceServers as RTCIceServer[] });
    return {
      signal: (payload) => peer.signal(payload),
      ready: peer.ready.then(messageLink),
      close: () => peer.close(),
    };
  };
}

/** The onnxruntime-web worker as a ComputeEngine speaking wire tensors; `numThreads` 0 or absent: the default. */
export async function workerEngine(backend: Backend, numThreads = 0): Promise<ComputeEngine & { dispose(): void }> {
  return engineOf(await ComputeWorker.create(backend, numThreads > 0 ? { numThreads } : {}));
}

/** A started compute worker (e.g. the one the capability benchmark kept) as a ComputeEngine. */
export function engineOf(worker: ComputeWorker): ComputeEngine & { dispose(): void } {
  const outputNames = new Map<string, string[]>();
  return {
    backend: worker.backend,
    dispose: () => worker.dispose(),
    async load(hash, bytes) {
      if (outputNames.has(hash)) return;
      outputNames.set(hash, (await worker.loadModel(hash, bytes)).outputNames);
    },
    async run(hash, inputs: RawTensor[]) {
      const feeds: TensorMap = {};
      for (const input of inputs) feeds[input.name] = tensorFromRaw(input);
      const { outputs } = await worker.run(hash, feeds, { transfer: true });
      const names = outputNames.get(hash) ?? Object.keys(outputs);
      return names.map((name) => rawFromTensor(name, outputs[name]!));
    },
    async unload(hash) {
      if (!outputNames.delete(hash)) return;
      await worker.unloadModel(hash);
    },
  };
}
