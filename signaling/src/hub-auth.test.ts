import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@shared/protocol';
import { authMessage, createIdentity, sign } from '@shared/identity';
import { base64urlEncode } from '@shared/bytes';
import { createHarness, type Harness } from './testing/hub-harness';

let h: Harness;
afterEach(() => h?.stop());

describe('auth', () => {
  it('AUTH1: every connection gets a fresh 32-byte challenge nonce', async () => {
    h = createHarness();
    const a = await h.open();
    const b = await h.open();
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('AUTH6: a valid signature is welcomed with the key as peer id', async () => {
    h = createHarness();
    const id = await createIdentity();
    const { socket } = await h.join('provider', id);
    expect(socket.all('welcome')[0]?.peerId).toBe(id.peerId);
  });

  it('AUTH6: a forged signature is refused with 4001', async () => {
    h = createHarness();
    const { socket } = await h.open();
    const id = await createIdentity();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: 'A'.repeat(86) });
    expect((await socket.take('error')).code).toBe('auth');
    expect(await socket.closedWith()).toBe(4001);
  });

  it('AUTH7: nobody can authenticate as another key (own signature, victim public key)', async () => {
    h = createHarness();
    const { socket, nonce } = await h.open();
    const victim = await createIdentity();
    const attacker = await createIdentity();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' });
    socket.deliver({
      type: 'auth',
      publicKey: victim.peerId,
      signature: await sign(attacker, authMessage(nonce, 'requester')),
    });
    expect(await socket.closedWith()).toBe(4001);
  });

  it("AUTH4: a signature over another connection's nonce is refused", async () => {
    h = createHarness();
    const id = await createIdentity();
    const first = await h.open();
    const second = await h.open();
    second.socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    second.socket.deliver({
      type: 'auth',
      publicKey: id.peerId,
      signature: await sign(id, authMessage(first.nonce, 'provider')),
    });
    expect(await second.socket.closedWith()).toBe(4001);
  });

  it('AUTH3: a replayed auth frame (nonce already used) is refused on a new connection', async () => {
    h = createHarness();
    const id = await createIdentity();
    const first = await h.open();
    const auth = {
      type: 'auth',
      publicKey: id.peerId,
      signature: await sign(id, authMessage(first.nonce, 'provider')),
    };
    first.socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    first.socket.deliver(auth);
    await first.socket.take('welcome');
    first.socket.deliver(auth);
    expect((await first.socket.take('error')).message).toMatch(/already authenticated/);
    const second = await h.open();
    second.socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    second.socket.deliver(auth);
    expect(await second.socket.closedWith()).toBe(4001);
  });

  it('AUTH3: a challenge answered after 30 s is refused', async () => {
    h = createHarness();
    const id = await createIdentity();
    const { socket, nonce } = await h.open();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    h.clock.now += 30_001;
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, 'provider')) });
    expect((await socket.take('error')).message).toMatch(/expired/);
    expect(await socket.closedWith()).toBe(4001);
  });

  it('AUTH3: a connection that never authenticates is closed when its challenge expires', async () => {
    h = createHarness({ nonceTtlMs: 20 });
    const { socket } = await h.open();
    expect(await socket.closedWith()).toBe(4001);
  });

  it('AUTH5: a signature made for another role is refused', async () => {
    h = createHarness();
    const id = await createIdentity();
    const { socket, nonce } = await h.open();
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'provider' });
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, 'requester')) });
    expect(await socket.closedWith()).toBe(4001);
  });

  it('AUTH2: messages before auth get not-authenticated, and auth needs hello first', async () => {
    h = createHarness();
    const id = await createIdentity();
    const { socket, nonce } = await h.open();
    socket.deliver({ type: 'ping', t: 1 });
    expect((await socket.take('error')).code).toBe('not-authenticated');
    socket.deliver({ type: 'auth', publicKey: id.peerId, signature: await sign(id, authMessage(nonce, 'provider')) });
    expect((await socket.take('error')).code).toBe('not-authenticated');
    expect(socket.closed).toBeNull();
  });

  it('PROTO4: a wrong protocol version gets the supported list and close 4002', async () => {
    h = createHarness();
    const { socket } = await h.open();
    socket.deliver({ type: 'hello', v: 99, role: 'provider' });
    const error = await socket.take('error');
    expect(error).toMatchObject({ code: 'version', supported: [PROTOCOL_VERSION] });
    expect(await socket.closedWith()).toBe(4002);
  });

  it('AUTH8: a second connection with the same key and role replaces the first (4004)', async () => {
    h = createHarness();
    const id = await createIdentity();
    const first = await h.join('provider', id);
    await h.join('provider', id);
    expect(await first.socket.closedWith()).toBe(4004);
    expect(h.hub.connectionCounts().provider).toBe(1);
  });
});

describe('one key, one spelling, strict verification', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const respell = (peerId: string, bits: number) =>
    peerId.slice(0, -1) + alphabet[alphabet.indexOf(peerId.at(-1)!) ^ bits];

  it('AUTH9: the other 3 spellings of a connected key cannot authenticate as a second peer of that role', async () => {
    h = createHarness();
    const id = await createIdentity();
    const first = await h.join('requester', id);
    for (const bits of [1, 2, 3]) {
      const { socket, nonce } = await h.open();
      socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' });
      socket.deliver({
        type: 'auth',
        publicKey: respell(id.peerId, bits),
        signature: await sign(id, authMessage(nonce, 'requester')),
      });
      expect((await socket.take('error')).message).toMatch(/canonical/);
      expect(socket.all('welcome')).toHaveLength(0);
    }
    expect(first.socket.closed).toBeNull();
    expect(h.hub.connectionCounts().requester).toBe(1);
  });

  it('AUTH10: a small-order key answering with R = identity, S = 0 is refused with 4001', async () => {
    h = createHarness();
    const { socket } = await h.open();
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const forged = new Uint8Array(64);
    forged.set(identityPoint);
    socket.deliver({ type: 'hello', v: PROTOCOL_VERSION, role: 'requester' });
    socket.deliver({ type: 'auth', publicKey: base64urlEncode(identityPoint), signature: base64urlEncode(forged) });
    expect((await socket.take('error')).code).toBe('auth');
    expect(await socket.closedWith()).toBe(4001);
    expect(socket.all('welcome')).toHaveLength(0);
  });
});
