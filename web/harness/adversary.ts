/**
 * Test-only adversarial provider: the real ProviderNode over the real adapters,
 * with an engine that lies on a fraction of units. URL parameters:
 *   strategy = noise | subtle | stale | copied   (default noise)
 *   fraction = 0..1 (default 0.5; 0 = an honest provider), seed = integer (default 1)
 *   backend = webgpu | wasm (default: what the benchmark picks), so a test can mix backends
 * noise: random values; subtle: one element off by 1%; stale: the first unit's
 * result replayed; copied: the previous unit's result. It signs what it sends,
 * as a real cheater with its own key would.
 *   together = noise | scaled | sign-flip | zero | stale | wrong-shard: in a training-together job it
 *   cheats this way (shared/src/jobs/together/adversary.ts) every round.
 *   rl = hand-written | own-seeds | tampered-logprobs | replay: in an RL job it sends rollouts cheated this
 *   way (shared/src/jobs/rl/adversary.ts) every round; hand-written answers addition prompts correctly.
 */
import type { RawTensor } from '@shared/protocol';
import { connectSignaling, engineOf, webrtcPeers, workerEngine } from '../src/app/runtime';
import { detectCapabilities } from '../src/compute';
import type { ComputeEngine } from '../src/core/ports';
import { ProviderNode } from '../src/provider/provider-node';
import { adoptFirst } from '../src/provider/switching-engine';
import { loadOrCreateIdentity } from '../src/storage/identity-store';
import { idbStore } from '../src/storage/kv';
import { ModelStore } from '../src/storage/model-store';
import { messageOf } from '@shared/errors';
import { sign } from '@shared/identity';
import { ADVERSARY_KINDS } from '@shared/jobs/together';
import { ProviderTogether } from '../src/provider/provider-together';
import { ProviderRl, type RolloutRewrite } from '../src/provider/provider-rl';
import { CoVolunteers } from '../src/provider/co-volunteers';
import { webgpuRolloutEngine } from '../src/provider/rl-webgpu';
import { cheatClaims, decodeIds, RL_ADVERSARY_KINDS, type RolloutClaim } from '@shared/jobs/rl';

type Strategy = 'noise' | 'subtle' | 'stale' | 'copied';

const params = new URLSearchParams(location.search);
const strategy = (params.get('strategy') ?? 'noise') as Strategy;
const fraction = Number(params.get('fraction') ?? '0.5');
let seed = Number(params.get('seed') ?? '1') >>> 0 || 1;
const forcedBackend = params.get('backend');
const togetherKind = params.get('together');
const together = ADVERSARY_KINDS.find((k) => k === togetherKind);
const rlKind = RL_ADVERSARY_KINDS.find((k) => k === params.get('rl'));
const text = (id: string, value: string) => void (document.getElementById(id)!.textContent = value);

function random(): number {
  // xorshift32: a reproducible choice of which units to corrupt.
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}

function mapFloats(t: RawTensor, fn: (x: number, i: number) => number): RawTensor {
  if (t.dtype !== 'float32') return t;
  const xs = new Float32Array(t.bytes.slice().buffer);
  return { ...t, bytes: new Uint8Array(xs.map(fn).buffer) };
}

function lying(honest: ComputeEngine): ComputeEngine & { wrong: number } {
  let first: RawTensor[] | undefined;
  let previous: RawTensor[] | undefined;
  const engine = {
    backend: honest.backend,
    wrong: 0,
    load: (hash: string, bytes: Uint8Array) => honest.load(hash, bytes),
    async run(hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
      const outputs = await honest.run(hash, inputs);
      const lie = random() < fraction;
      const earlier = strategy === 'stale' ? first : previous;
      first ??= outputs;
      previous = outputs;
      if (!lie) return outputs;
      let wrong: RawTensor[];
      if (strategy === 'noise') wrong = outputs.map((t) => mapFloats(t, () => random() * 2 - 1));
      else if (strategy === 'subtle')
        wrong = outputs.map((t) => mapFloats(t, (x, i) => (i === 0 ? x * 1.01 + 1e-3 : x)));
      // stale / copied: another unit's result, when it has the same shape (otherwise the lie would be a shape error).
      else if (earlier && earlier !== outputs && earlier.every((t, i) => t.bytes.length === outputs[i]!.bytes.length))
        wrong = earlier;
      else return outputs;
      engine.wrong++;
      return wrong;
    },
  };
  return engine;
}

/** The right answer of an addition prompt ("12+34=" → "640": the tasks write sums ones digit first). */
function additionAnswer(prompt: string): string {
  const m = /^(\d+)\+(\d+)=$/.exec(prompt);
  if (!m) return '';
  const sum = String(Number(m[1]) + Number(m[2])).padStart(m[1]!.length + 1, '0');
  return [...sum].reverse().join('');
}

/** An RL cheat of `kind`: what it would send in place of the honest claims. */
function rlCheat(kind: NonNullable<typeof rlKind>): RolloutRewrite {
  let previous: RolloutClaim[] = [];
  return async (_honest, { assignment, policy, backend }) => {
    const claims = await cheatClaims(kind, {
      backend,
      assignment,
      version: policy.version,
      answer: (i) => additionAnswer(decodeIds(assignment.prompts.get(i) ?? [])),
      previous,
    });
    previous = claims;
    return claims;
  };
}

async function main(): Promise<void> {
  const kv = idbStore('basilica-adversary');
  const { identity } = await loadOrCreateIdentity(kv, 'provider');
  // Forced onto WebGPU (SwiftShader in the e2e suite): benchmark it, so the figure it announces is its own.
  const report = await detectCapabilities({ keep: true, software: forcedBackend === 'webgpu' });
  if (forcedBackend === 'webgpu' && !report.webgpu.available)
    throw new Error(`webgpu requested but unavailable: ${report.webgpu.reason}`);
  const backend = forcedBackend === 'webgpu' || forcedBackend === 'wasm' ? forcedBackend : report.capabilities.backend;
  const capabilities = { ...report.capabilities, backend };
  text('backend', backend);
  const engines = adoptFirst(
    report.worker && { engine: engineOf(report.worker), threads: report.worker.numThreads },
    workerEngine,
  );
  const compute = lying(await engines.create(backend, 0));
  const { client, port } = connectSignaling('provider', identity);
  const createPeer = webrtcPeers(client);
  const coVolunteers = new CoVolunteers(port, createPeer);
  const rl = new ProviderRl({
    selfId: () => identity.peerId,
    log: (line) => console.log(line),
    ...(rlKind && { rewrite: rlCheat(rlKind) }),
    // backend=webgpu: RL rollouts on WebGPU too (the product's provider page rolls out on WASM).
    ...(backend === 'webgpu' && { engine: webgpuRolloutEngine }),
    forward: coVolunteers.forward,
  });
  const togetherNode = new ProviderTogether({
    sign: (m) => sign(identity, m),
    store: kv,
    log: (line) => console.log(line),
    ...(together && { adversary: together }),
    forward: coVolunteers.forward,
  });
  coVolunteers.serve({ rl, together: togetherNode });
  const node = new ProviderNode({
    signaling: port,
    createPeer,
    compute,
    models: new ModelStore(kv),
    capabilities,
    identity,
    together: togetherNode,
    rl,
  });
  node.view.subscribe((view) => {
    text('connection', view.connection);
    text('peer-id', view.peerId ?? '');
    text('units-done', String(view.unitsDone));
    text('wrong', String(compute.wrong));
    text('log', view.log.join('\n'));
  });
  node.start();
  client.connect();
}

main().catch((error: unknown) => text('log', `failed: ${messageOf(error)}`));
