/**
 * One load-generator process: opens its share of pairs (a provider and a
 * requester each), waits until every pair can signal, then runs the shape it is
 * told and reports latencies and counts. Driven over IPC by bench/signaling.ts.
 *   rounds: closed loop per pair: the requester sends an offer, the provider
 *           answers on receipt, the requester sends the next on the answer.
 *   steady: open loop: each requester sends `rate` offers/s on a fixed schedule.
 */
import { WebSocket } from 'ws';
import { createIdentity, OURS, PEERJS, offerSdp, sentAtOf, wallNow, type Dialect, type Server } from './protocol';

interface Start {
  server: Server;
  base: string;
  pairs: number;
  /** Unique prefix so ids never collide between workers. */
  prefix: string;
}
interface Run {
  shape: 'rounds' | 'steady';
  seconds: number;
  rate: number;
}

interface Peer {
  ws: WebSocket;
  id: string;
  /** The other end (known at once for PeerJS, from `matched` for ours). */
  partner?: string;
  jobId: string;
}

const send = (m: unknown) => process.send?.(m);
let dialect: Dialect = OURS;
const latencies: number[] = [];
let delivered = 0;
let offered = 0;
let measuring = false;
let shape: Run['shape'] = 'rounds';
let stopAt = 0;

function connect(start: Start, role: 'provider' | 'requester', id: string, index: number): Promise<Peer> {
  return new Promise((resolve, reject) => {
    void (async () => {
      const identity = await createIdentity();
      const peerId = start.server === 'ours' ? identity.peerId : id;
      const ws = new WebSocket(dialect.url(start.base, peerId), { perMessageDeflate: false });
      const peer: Peer = { ws, id: peerId, jobId: `bench-${start.prefix}-${String(index).padStart(6, '0')}` };
      let stage: 'first' | 'auth' | 'ready' = 'first';
      ws.on('error', reject);
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as Record<string, unknown>;
        if (stage === 'first') {
          stage = 'auth';
          void dialect.handshake(frame, role, identity).then((frames) => {
            for (const f of frames) ws.send(f);
            if (start.server === 'peerjs') {
              stage = 'ready';
              resolve(peer);
            }
          }, reject);
          return;
        }
        if (stage === 'auth' && frame.type === 'welcome') {
          stage = 'ready';
          resolve(peer);
          return;
        }
        if (frame.type === 'matched') {
          peer.partner = String(frame.peerId);
          return;
        }
        if (frame.type === 'error') {
          send({ type: 'server-error', message: frame.message, code: frame.code });
          return;
        }
        onRelayed(peer, frame);
      });
    })().catch(reject);
  });
}

function onRelayed(peer: Peer, frame: Record<string, unknown>): void {
  const relayed = dialect.relayed(frame);
  if (!relayed) return;
  const now = wallNow();
  if (measuring) {
    delivered++;
    latencies.push(now - sentAtOf(relayed.sdp));
  }
  if (shape !== 'rounds' || now > stopAt) return;
  // Closed loop: the provider answers every offer; the requester sends the next offer on the answer.
  peer.ws.send(dialect.offer(relayed.from, relayed.jobId, offerSdp(wallNow()), !relayed.answer));
  if (measuring) offered++;
}

const requesters: Peer[] = [];
const peers: Peer[] = [];
/** Pairs connecting at once. */
const CONNECT_BATCH = 16;
const CAPABILITIES = {
  backend: 'wasm',
  gflops: 10,
  measured: { wasm: 10 },
  features: [],
  maxBufferBytes: 1 << 28,
  wasm: { simd: true, threads: true, cores: 4 },
};

process.on('message', (message: { type: string } & Partial<Start> & Partial<Run>) => {
  void (async () => {
    if (message.type === 'start') {
      const start = message as Start;
      dialect = start.server === 'ours' ? OURS : PEERJS;
      const t0 = performance.now();
      const openPair = async (i: number) => {
        const providerId = `p${start.prefix}x${i}`;
        const requesterId = `r${start.prefix}x${i}`;
        const provider = await connect(start, 'provider', providerId, i);
        const requester = await connect(start, 'requester', requesterId, i);
        if (start.server === 'ours') {
          provider.ws.send(JSON.stringify({ type: 'announce', capabilities: CAPABILITIES, slots: 1 }));
          requester.ws.send(
            JSON.stringify({
              type: 'job-open',
              jobId: requester.jobId,
              needs: { kind: 'inference', maxProviders: 1, units: 1000, modelBytes: 1 },
            }),
          );
        } else {
          requester.partner = provider.id;
          provider.partner = requester.id;
          peers.push(provider);
        }
        peers.push(requester);
        requesters.push(requester);
      };
      // A few pairs at a time: the server sees a realistic arrival rate, not one socket at a time.
      for (let i = 0; i < start.pairs; i += CONNECT_BATCH)
        await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, start.pairs - i) }, (_, k) => openPair(i + k)));
      if (start.server === 'peerjs')
        setInterval(() => {
          for (const p of peers) p.ws.send('{"type":"HEARTBEAT"}');
        }, 20_000).unref();
      // ours: wait until every requester has been matched
      const deadline = Date.now() + 60_000;
      while (requesters.some((r) => !r.partner) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      send({
        type: 'ready',
        connectMs: performance.now() - t0,
        unmatched: requesters.filter((r) => !r.partner).length,
      });
      return;
    }
    if (message.type === 'run') {
      const run = message as Run;
      shape = run.shape;
      latencies.length = 0;
      delivered = 0;
      offered = 0;
      const cpu0 = process.cpuUsage();
      const t0 = wallNow();
      stopAt = t0 + run.seconds * 1000;
      measuring = true;
      if (run.shape === 'rounds') {
        for (const r of requesters) r.ws.send(dialect.offer(r.partner!, r.jobId, offerSdp(wallNow()), false));
        offered += requesters.length;
      } else {
        const period = 1000 / run.rate;
        requesters.forEach((r, i) => {
          const phase = (period * i) / requesters.length;
          let k = 0;
          const tick = () => {
            if (wallNow() > stopAt) return;
            r.ws.send(dialect.offer(r.partner!, r.jobId, offerSdp(wallNow()), false));
            offered++;
            // A fixed schedule (open loop): the k-th send is due at t0 + phase + k·period, however late this one ran.
            k++;
            setTimeout(tick, Math.max(0, t0 + phase + k * period - wallNow()));
          };
          setTimeout(tick, phase);
        });
      }
      await new Promise((r) => setTimeout(r, run.seconds * 1000 + 1_500)); // let the last ones land
      measuring = false;
      const cpu = process.cpuUsage(cpu0);
      send({
        type: 'result',
        delivered,
        offered,
        latencies: Float64Array.from(latencies)
          .sort()
          .filter((_, i, a) => a.length < 20_000 || i % Math.ceil(a.length / 20_000) === 0),
        cpuMs: (cpu.user + cpu.system) / 1000,
      });
      return;
    }
    if (message.type === 'stop') {
      for (const r of requesters) r.ws.terminate();
      process.exit(0);
    }
  })().catch((error: unknown) => {
    send({ type: 'failed', error: String(error) });
  });
});
