/**
 * The keyed trust path against the real signaling server (in-process, loopback
 * WebSocket, real SignalingClient): signed results, a caught provider reported
 * and excluded, receipts logged by the server and credited on /leaderboard.
 * Data channels are in-memory doubles; everything else is the product.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createIdentity, type Identity } from '@shared/identity';
import type { ClientMessage, Role } from '@shared/protocol';
import { createSignalingServer, type SignalingServer } from '../../signaling/src/server';
import { testLogger } from '../../signaling/src/testing/fixtures';
import { fetchLeaderboard } from '../../web/src/net/leaderboard';
import { SignalingClient } from '../../web/src/net/signaling-client';
import { ProviderNode } from '../../web/src/provider/provider-node';
import { JobRunner } from '../../web/src/requester/job-runner';
import { JobStore } from '../../web/src/storage/job-store';
import { memoryStore } from '../../web/src/storage/kv';
import { ModelStore } from '../../web/src/storage/model-store';
import { ProviderReceipts } from '../../web/src/storage/receipt-store';
import { AFFINE_MODEL as MODEL, affine as f, affineJob, jobModelOf } from '../../web/src/testing/affine-job';
import { functionEngine, memoryPeerFactory, TEST_CAPABILITIES } from '../../web/src/testing/doubles';
import type { ConnectionState, SignalingEvents, SignalingPort } from '../../web/src/core/ports';
import { until } from '../../web/src/testing/wait';

const peers = memoryPeerFactory();
const servers: SignalingServer[] = [];
const clients: SignalingClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The same adapter as web/src/app/runtime.ts's connectSignaling, over ws; records what is sent. */
function connect(wsUrl: string, role: Role, identity: Identity): { port: SignalingPort; sent: ClientMessage[] } {
  const client = new SignalingClient({ url: wsUrl, role, identity, WebSocket, backoff: { initialMs: 20, maxMs: 200 } });
  clients.push(client);
  const sent: ClientMessage[] = [];
  const port: SignalingPort = {
    send: (message) => {
      sent.push(message);
      void client.send(message);
    },
    on<K extends keyof SignalingEvents>(event: K, handler: (value: SignalingEvents[K]) => void) {
      if (event === 'state')
        return client.on('state', (s) => (handler as (s: ConnectionState) => void)(s === 'idle' ? 'connecting' : s));
      return client.on(event as Exclude<K, 'state'>, handler as never);
    },
  };
  queueMicrotask(() => client.connect());
  return { port, sent };
}

describe('trust path against the real signaling server', () => {
  it('TRUST-E1: signed results, a cheater reported and excluded, receipts logged and credited on the leaderboard', async () => {
    const server = createSignalingServer({ port: 0, host: '127.0.0.1', logger: testLogger, staticDir: '/nonexistent' });
    servers.push(server);
    const { wsUrl, url } = await server.listen();

    const startProvider = async (fn: (x: number) => number) => {
      const identity = await createIdentity();
      const receipts = new ProviderReceipts(memoryStore(), identity.peerId);
      const node = new ProviderNode({
        signaling: connect(wsUrl, 'provider', identity).port,
        createPeer: peers,
        compute: functionEngine(fn, { delayMs: 1 }),
        models: new ModelStore(memoryStore()),
        capabilities: TEST_CAPABILITIES,
        identity,
        receipts,
      });
      node.start();
      await until(() => node.view.get().connection === 'open', 15_000, 'the provider to connect');
      return { identity, node, receipts };
    };
    const honest = await startProvider(f);
    const cheater = await startProvider((x) => 2 * x + 1.01);

    const { spec, inputs } = await affineJob('job-server-trust', 256, { spotCheckRate: 0.03 });
    const jobs = new JobStore(memoryStore());
    await jobs.create(spec, inputs);
    const requesterId = await createIdentity();
    const requester = connect(wsUrl, 'requester', requesterId);
    const runner = new JobRunner(spec, inputs, {
      signaling: requester.port,
      createPeer: peers,
      jobs,
      model: await jobModelOf(MODEL),
      identity: requesterId,
      local: functionEngine(f),
      flopsPerRow: 1000,
    });
    await runner.start();
    await until(() => runner.view.get().status === 'done', 15_000, 'the job to finish');
    await until(() => runner.view.get().receipts.logged === 64, 15_000, 'all 64 receipts to be logged');

    const view = runner.view.get();
    expect(view.providers.find((p) => p.peerId === cheater.identity.peerId)).toMatchObject({
      state: 'rejected',
      unitsDone: 0,
    });
    expect(view.verification.rejected).toBe(1);
    expect(requester.sent).toContainEqual(
      expect.objectContaining({ type: 'report', peerId: cheater.identity.peerId, verdict: 'rejected' }),
    );
    // Every accepted unit was the honest provider's: its receipts, verified and kept, and the server's credit agree.
    await until(() => honest.receipts.all().length === 64, 15_000, 'the provider to hold 64 receipts');
    expect(honest.node.view.get().credits).toEqual({ receipts: 64, flops: 64 * 4 * 1000 });
    expect(cheater.receipts.all()).toHaveLength(0);
    const board = await fetchLeaderboard({ baseUrl: url });
    expect(board.rows.map((r) => [r.provider, r.flops, r.units])).toEqual([
      [honest.identity.peerId, 64 * 4 * 1000, 64],
    ]);
  });
});
