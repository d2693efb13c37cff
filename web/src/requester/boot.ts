/** Starts Templar once per page: requester identity, signaling, and every stored job (resuming unfinished ones). */
import { connectSignaling, webrtcPeers, workerEngine } from '../app/runtime';
import { Observable } from '../core/emitter';
import { loadOrCreateIdentity } from '../storage/identity-store';
import { idbStore } from '../storage/kv';
import { Templar } from './templar';
import type { ConnectionState, PeerFactory, SignalingPort } from '../core/ports';
import { createWorkerDiffer } from '../pulse';
import type { Identity } from '@shared/identity';
import { ReceiptOutbox } from './receipt-outbox';

/** What the Train and RL tabs' jobs share with Templar: one key, one socket, one receipt outbox. */
export interface RequesterNetwork {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  identity: Identity;
  receipts: ReceiptOutbox;
}

export interface RequesterRuntime {
  templar: Promise<Templar>;
  connection: Observable<ConnectionState>;
  peerId: Observable<string | undefined>;
  /** The requester's signaling, WebRTC peers, key and receipt outbox, for the Train and RL tabs' jobs. */
  network: Promise<RequesterNetwork>;
}

let runtime: RequesterRuntime | undefined;

export function startRequester(): RequesterRuntime {
  if (runtime) return runtime;
  const connection = new Observable<ConnectionState>('connecting');
  const peerId = new Observable<string | undefined>(undefined);
  let reachable!: (n: RequesterNetwork) => void;
  const network = new Promise<RequesterNetwork>((r) => (reachable = r));
  const templar = (async () => {
    const kv = idbStore();
    const { identity } = await loadOrCreateIdentity(kv, 'requester');
    peerId.set(identity.peerId);
    const { client, port } = connectSignaling('requester', identity);
    port.on('state', (state) => connection.set(state));
    const receipts = new ReceiptOutbox(port);
    // Spot checks run on WebAssembly: on this side it is the backend every browser has.
    const instance = new Templar({
      signaling: port,
      createPeer: webrtcPeers(client),
      store: kv,
      local: () => workerEngine('wasm'),
      // A new model version is diffed in a Web Worker; the worker starts with the first resumed or published job.
      findChanges: () => createWorkerDiffer().findChanges,
      identity,
      receipts,
      storageLeft,
      notify: (title, body) => {
        if (typeof Notification !== 'undefined' && Notification.permission === 'granted')
          new Notification(title, { body });
      },
    });
    reachable({ signaling: port, createPeer: webrtcPeers(client), identity, receipts });
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
