/** Starts Templar once per page: requester identity, signaling, and every stored job (resuming unfinished ones). */
import { connectSignaling, webrtcPeers, workerEngine } from '../app/runtime';
import { Observable } from '../core/emitter';
import { loadOrCreateIdentity } from '../storage/identity-store';
import { idbStore } from '../storage/kv';
import { Templar } from './templar';
import type { ConnectionState, PeerFactory, SignalingPort } from '../core/ports';
import { createWorkerDiffer } from '../pulse';

export interface RequesterRuntime {
  templar: Promise<Templar>;
  connection: Observable<ConnectionState>;
  peerId: Observable<string | undefined>;
  /** The requester's signaling and WebRTC peers, for the Train tab's jobs on a provider (one key, one socket). */
  network: Promise<{ signaling: SignalingPort; createPeer: PeerFactory }>;
}

let runtime: RequesterRuntime | undefined;

export function startRequester(): RequesterRuntime {
  if (runtime) return runtime;
  const connection = new Observable<ConnectionState>('connecting');
  const peerId = new Observable<string | undefined>(undefined);
  let reachable!: (n: { signaling: SignalingPort; createPeer: PeerFactory }) => void;
  const network = new Promise<{ signaling: SignalingPort; createPeer: PeerFactory }>((r) => (reachable = r));
  const templar = (async () => {
    const kv = idbStore();
    const { identity } = await loadOrCreateIdentity(kv, 'requester');
    peerId.set(identity.peerId);
    const { client, port } = connectSignaling('requester', identity);
    port.on('state', (state) => connection.set(state));
    // Spot checks run on WebAssembly: on this side it is the backend every browser has.
    const instance = new Templar({
      signaling: port,
      createPeer: webrtcPeers(client),
      store: kv,
      local: () => workerEngine('wasm'),
      // A new model version is diffed in a Web Worker; the worker starts with the first resumed or published job.
      findChanges: () => createWorkerDiffer().findChanges,
      identity,
      storageLeft,
      notify: (title, body) => {
        if (typeof Notification !== 'undefined' && Notification.permission === 'granted')
          new Notification(title, { body });
      },
    });
    reachable({ signaling: port, createPeer: webrtcPeers(client) });
    await instance.init();
    client.connect();
    return instance;
  })();
  runtime = { templar, connection, peerId, network };
  return runtime;
}

/** What the origin may still store, from the browser's own estimate; undefined where it gives none. */
async function storageLeft(): Promise<number | undefined> {
  const estimate = await navigator.storage?.estimate?.();
  if (estimate?.quota === undefined) return undefined;
  return estimate.quota - (estimate.usage ?? 0);
}
