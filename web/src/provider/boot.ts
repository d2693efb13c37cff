/**
 * Starts this tab as a Basilica provider, once per page: identity from
 * IndexedDB, capability probe and benchmark, compute worker, signaling.
 * Each step reports progress so the page can show what is happening.
 */
import { type Identity, sign } from '@shared/identity';
import { ProviderTogether, type TogetherActivity } from './provider-together';
import { ProviderRl, type RlActivity, wasmRolloutEngine } from './provider-rl';
import { webgpuRolloutEngine } from './rl-webgpu';
import { connectSignaling, engineOf, webrtcPeers, workerEngine } from '../app/runtime';
import { detectCapabilities, type CapabilityReport } from '../compute';
import { Observable } from '../core/emitter';
import { exportIdentity, openIdentityFile } from '../storage/identity-file';
import { loadOrCreateIdentity, storeIdentity } from '../storage/identity-store';
import { idbStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { ProviderReceipts } from '../storage/receipt-store';
import { ProviderNode } from './provider-node';
import { CoVolunteers } from './co-volunteers';
import { formatBytes } from '@shared/tensor';
import { messageOf } from '@shared/errors';
import { ContributionStore } from '../storage/contribution-store';
import { DisplayNameController, saveDisplayName, storedDisplayName } from './display-name';
import { bindLimits, dutyPacer } from './limits-controller';
import { adoptFirst, SwitchingEngine } from './switching-engine';
import {
  limitedCapabilities,
  LIMITS_CHANNEL,
  WorkLimitsStore,
  type LimitsChannel,
  type PowerState,
} from './work-limits';

export type BootStep = 'identity' | 'benchmark' | 'worker' | 'connect' | 'ready' | 'failed';

export interface BootView {
  step: BootStep;
  identity?: Identity;
  identityCreated?: boolean;
  report?: CapabilityReport;
  cachedModels?: number;
  /** What the model store holds, and what an earlier release's caches held that was dropped. */
  modelNote?: string;
  error?: string;
}

export interface ProviderRuntime {
  boot: Observable<BootView>;
  node: Promise<ProviderNode>;
  /** The volunteer's limits, shared by every provider tab of this browser. */
  limits: Promise<WorkLimitsStore>;
  /** What the Battery Status API says; undefined while unknown or where the browser lacks it. */
  power: Observable<PowerState | undefined>;
  /** False where the browser has no Battery Status API (the page says so next to the power limits). */
  batteryApi: boolean;
  contribution: ContributionStore;
  receipts: Promise<ProviderReceipts>;
  /** The signed leaderboard name, once signaling is set up. */
  displayName: Promise<DisplayNameController>;
  /** The identity key as a passphrase-encrypted file, and back (identity-file.ts). */
  backup: IdentityBackup;
  /** The RL job this tab rolls out for, if any. */
  rl: Observable<RlActivity | null>;
  /** The training-together job this tab trains in, if any. */
  together: Observable<TogetherActivity | null>;
}

export interface IdentityBackup {
  /** The encrypted file's text; throws IdentityFileError. */
  export(passphrase: string): Promise<string>;
  /**
   * Stores the file's key (and the display name saved with it) for the next load, only once it is fully
   * checked; returns its peer id and that name.
   */
  import(text: string, passphrase: string): Promise<{ peerId: string; displayName: string | null }>;
}

/** The provider runtime if this tab started one (the nav shows that it keeps running on other pages). */
export function startedProvider(): ProviderRuntime | undefined {
  return runtime;
}

function watchBattery(power: Observable<PowerState | undefined>): boolean {
  type Battery = EventTarget & PowerState;
  const nav = navigator as Navigator & { getBattery?: () => Promise<Battery> };
  if (typeof nav.getBattery !== 'function') return false;
  void nav.getBattery().then(
    (battery) => {
      const read = () => power.set({ charging: battery.charging, level: battery.level });
      read();
      battery.addEventListener('chargingchange', read);
      battery.addEventListener('levelchange', read);
    },
    () => undefined,
  );
  return true;
}

function limitsChannel(): LimitsChannel | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined;
  const channel = new BroadcastChannel(LIMITS_CHANNEL);
  const port: LimitsChannel = {
    postMessage: (message) => channel.postMessage(message),
    onmessage: null,
    close: () => channel.close(),
  };
  channel.onmessage = (event: MessageEvent<unknown>) => port.onmessage?.({ data: event.data });
  return port;
}

function watchHidden(): Observable<boolean> {
  const hidden = new Observable(document.hidden);
  document.addEventListener('visibilitychange', () => hidden.set(document.hidden));
  return hidden;
}

let runtime: ProviderRuntime | undefined;

export function startProvider(): ProviderRuntime {
  if (runtime) return runtime;
  const boot = new Observable<BootView>({ step: 'identity' });
  const patch = (change: Partial<BootView>) => boot.set({ ...boot.get(), ...change });
  const kv = idbStore();
  const limits = WorkLimitsStore.open(kv, limitsChannel());
  const power = new Observable<PowerState | undefined>(undefined);
  const batteryApi = watchBattery(power);
  const contribution = new ContributionStore(kv);
  const rl = new Observable<RlActivity | null>(null);
  const together = new Observable<TogetherActivity | null>(null);
  let provider: ProviderNode | undefined;
  const early: string[] = [];
  const note = (line: string) => (provider ? provider.note(line) : early.push(line));
  const identityReady = loadOrCreateIdentity(kv, 'provider');
  const receipts = identityReady.then(({ identity }) => new ProviderReceipts(kv, identity.peerId));
  let nameReady: (controller: DisplayNameController) => void = () => undefined;
  const displayName = new Promise<DisplayNameController>((resolve) => (nameReady = resolve));
  const node = (async () => {
    const { identity, created } = await identityReady;
    const models = new ModelStore(kv);
    const dropped = await models.migrate();
    const held = await models.list();
    const modelNote =
      `${formatBytes(await models.bytes())} on disk` +
      (dropped > 0
        ? `; ${dropped} entries cached by an earlier release were dropped and are fetched again when needed`
        : '');
    patch({ identity, identityCreated: created, cachedModels: held.length, modelNote, step: 'benchmark' });
    // The benchmark's worker on the chosen backend becomes the compute worker: its runtime is already started.
    const report = await detectCapabilities({ keep: true });
    patch({ report, step: 'worker' });
    const store = await limits;
    if (store.problem) note(store.problem);
    const start = limitedCapabilities(report.capabilities, store.limits.get());
    const kept = report.worker && { engine: engineOf(report.worker), threads: report.worker.numThreads };
    const engines = adoptFirst(kept, workerEngine);
    const compute = await SwitchingEngine.start(
      { backend: start.backend, threads: store.limits.get().threads },
      engines.create,
      note,
    );
    engines.release();
    patch({ step: 'connect' });
    const { client, port } = connectSignaling('provider', identity);
    const createPeer = webrtcPeers(client);
    // Direct links to co-volunteers of a job: new versions of RL and together jobs are relayed over them.
    const coVolunteers = new CoVolunteers(port, createPeer);
    const rlNode = new ProviderRl({
      selfId: () => identity.peerId,
      log: note,
      report: (activity) => rl.set(activity),
      // The backend the probe (or the volunteer's limits) chose for this tab, when a job starts.
      engine: (arena) => (compute.backend === 'webgpu' ? webgpuRolloutEngine : wasmRolloutEngine)(arena),
      forward: coVolunteers.forward,
    });
    const togetherNode = new ProviderTogether({
      sign: (m) => sign(identity, m),
      store: kv,
      log: note,
      report: (activity) => together.set(activity),
      forward: coVolunteers.forward,
    });
    coVolunteers.serve({ rl: rlNode, together: togetherNode });
    provider = new ProviderNode({
      signaling: port,
      createPeer,
      compute,
      models,
      capabilities: start,
      identity,
      receipts: await receipts,
      contribution,
      pace: dutyPacer(store.limits),
      together: togetherNode,
      rl: rlNode,
    });
    for (const line of early.splice(0)) provider.note(line);
    bindLimits({ limits: store.limits, power, hidden: watchHidden() }, provider, compute, report.capabilities);
    // "Cached models" follows the store: recount whenever a session reaches its model.
    let states = '';
    provider.view.subscribe((view) => {
      const next = view.sessions.map((s) => s.state).join();
      if (next === states) return;
      states = next;
      void models.list().then((held) => patch({ cachedModels: held.length }));
    });
    const names = new DisplayNameController({ store: kv, identity, signaling: port });
    await names.start().catch((error: unknown) => note(`display name not sent: ${messageOf(error)}`));
    nameReady(names);
    provider.start();
    client.connect();
    patch({ step: 'ready' });
    return provider;
  })();
  node.catch((error: unknown) =>
    patch({ step: 'failed', error: error instanceof Error ? error.message : messageOf(error) }),
  );
  const backup: IdentityBackup = {
    // The display name goes with the key, so credit and name move to another browser together.
    export: async (passphrase) =>
      exportIdentity((await identityReady).identity, 'provider', passphrase, {
        displayName: await storedDisplayName(kv),
      }),
    import: async (text, passphrase) => {
      const { identity, displayName: name } = await openIdentityFile(text, 'provider', passphrase);
      await storeIdentity(kv, 'provider', identity);
      if (name !== null) await saveDisplayName(kv, name);
      return { peerId: identity.peerId, displayName: name };
    },
  };
  runtime = { boot, node, limits, power, batteryApi, contribution, receipts, displayName, backup, rl, together };
  return runtime;
}
