/** Builds a Hub over in-memory sockets and plays authenticated clients against it. */
import { PROTOCOL_VERSION, type Role } from '@shared/protocol';
import { authMessage, createIdentity, sign, type Identity } from '@shared/identity';
import { DEFAULT_LIMITS, Hub, type HubLimits, type HubOptions } from '../hub';
import { Metrics } from '../metrics';
import { testLogger } from './fixtures';
import { MemorySocket } from './memory-socket';

export interface Harness {
  hub: Hub;
  metrics: Metrics;
  clock: { now: number };
  /** An unauthenticated socket that has received its challenge. */
  open(ip?: string): Promise<{ socket: MemorySocket; nonce: string }>;
  /** A socket that completed hello + auth as `role`. */
  join(role: Role, identity?: Identity, ip?: string): Promise<{ socket: MemorySocket; identity: Identity }>;
  stop(): void;
}

export function createHarness(
  overrides: Partial<Omit<HubOptions, 'limits'>> & { limits?: Partial<HubLimits> } = {},
): Harness {
  const clock = { now: 1_000_000 };
  const metrics = new Metrics();
  const hub = new Hub({
    iceServers: [],
    heartbeatMs: 60_000,
    nonceTtlMs: 30_000,
    now: () => clock.now,
    log: testLogger,
    metrics,
    ...overrides,
    limits: { ...DEFAULT_LIMITS, ...overrides.limits },
  });
  const sockets: MemorySocket[] = [];
  const open = async (ip?: string) => {
    const socket = new MemorySocket(ip);
    sockets.push(socket);
    hub.accept(socket);
    const challenge = await socket.take('challenge');
    return { socket, nonce: challenge.nonce };
  };
  return {
    hub,
    metrics,
    clock,
    open,
    async join(role, identity, ip) {
      const id = identity ?? (await createIdentity());
      const { socket, nonce } = await open(ip);
      socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role });
      socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, role)) });
      await socket.take('welcome');
      return { socket, identity: id };
    },
    stop() {
      hub.shutdown();
    },
  };
}
