/** hello and auth: the protocol version, the role, and a signed challenge that proves the key (SPEC AUTH*, SCALE3). */
import { CloseCode, SUPPORTED_VERSIONS, type ClientMessageOf } from '@shared/protocol';
import { authMessage, verify } from '@shared/identity';
import { ProtocolError } from '../errors';
import { peerKey, short, unavailable, type Connection } from './connection';
import type { HubContext } from './context';
import type { Replica } from './replica';

export class Auth {
  constructor(
    private readonly ctx: HubContext,
    private readonly replica: Replica,
  ) {}

  onHello(conn: Connection, message: ClientMessageOf<'hello'>): void {
    const { wire, options } = this.ctx;
    if (conn.role) throw new ProtocolError('invalid', 'hello already received');
    if (!SUPPORTED_VERSIONS.includes(message.v)) {
      wire.send(conn, {
        type: 'error',
        code: 'version',
        message: `protocol v${message.v} is not supported`,
        supported: [...SUPPORTED_VERSIONS],
      });
      options.metrics.inc('signaling_errors_total', { code: 'version' });
      return wire.closeConn(conn, CloseCode.versionMismatch, 'unsupported protocol version');
    }
    conn.role = message.role;
  }

  async onAuth(conn: Connection, message: ClientMessageOf<'auth'>): Promise<void> {
    const { ctx } = this;
    const { options, wire } = ctx;
    if (conn.peerId) throw new ProtocolError('invalid', 'already authenticated');
    if (!conn.role) throw new ProtocolError('not-authenticated', 'send hello before auth');
    const role = conn.role;
    const fail = (why: string) => {
      options.metrics.inc('signaling_auth_failures_total');
      return new ProtocolError('auth', why, CloseCode.authFailed);
    };
    if (conn.nonceUsed) throw fail('challenge already answered');
    conn.nonceUsed = true;
    if (options.now() > conn.nonceExpiresAt) throw fail('challenge expired');
    const ok = await verify(message.publicKey, authMessage(conn.nonce, role), message.signature);
    if (conn.closed) return;
    if (!ok) throw fail('signature does not verify for this key, challenge and role');
    // Presence is shared: a peer that cannot be registered everywhere is not welcomed (SPEC SCALE3).
    if (!ctx.shared.health().up) throw unavailable('cannot register new peers', CloseCode.tryAgainLater);
    clearTimeout(conn.authTimer);
    const key = peerKey(role, message.publicKey);
    const previous = ctx.byPeer.get(key);
    if (previous) wire.closeConn(previous, CloseCode.replaced, 'replaced by a newer connection with the same key');
    conn.peerId = message.publicKey;
    ctx.byPeer.set(key, conn);
    ctx.routes.value++;
    // A newer connection on another instance replaces this one there too (apply: join).
    await this.replica.publish({ op: 'join', role, peer: conn.peerId, conn: conn.id });
    if (conn.closed) return;
    if (role === 'requester') {
      let set = ctx.requestersByIp.get(conn.ip);
      if (!set) ctx.requestersByIp.set(conn.ip, (set = new Set()));
      set.add(conn);
    }
    options.log.info('authenticated', {
      conn: conn.id,
      role,
      peer: short(conn.peerId),
      replaced: Boolean(previous),
    });
    wire.send(conn, {
      type: 'welcome',
      peerId: conn.peerId,
      iceServers: options.iceServers,
      heartbeatMs: options.heartbeatMs,
    });
  }
}
