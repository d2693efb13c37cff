import { describe, expect, it } from 'vitest';
import { createIdentity, verify } from '@shared/identity';
import { displayNameMessage, type ClientMessage, type ServerMessageOf } from '@shared/protocol';
import { Emitter } from '../core/emitter';
import type { SignalingEvents } from '../core/ports';
import { memoryStore } from '../storage/kv';
import { DisplayNameController } from './display-name';

async function setup() {
  const identity = await createIdentity();
  const store = memoryStore();
  const sent: ClientMessage[] = [];
  const events = new Emitter<SignalingEvents>();
  const names = new DisplayNameController({
    store,
    identity,
    signaling: { send: (m) => void sent.push(m), on: (e, h) => events.on(e, h) },
  });
  const ack = (a: Omit<ServerMessageOf<'display-name-ack'>, 'type'>) =>
    events.emit('display-name-ack', { type: 'display-name-ack', ...a });
  return { identity, store, sent, names, ack };
}

describe('display name on the provider page', () => {
  it('NAME2: the name sent is signed by the provider key over displayNameMessage, and stored', async () => {
    const { identity, store, sent, names } = await setup();
    expect(await names.set('Ada')).toBeNull();
    const frame = sent[0];
    expect(frame?.type).toBe('display-name');
    if (frame?.type !== 'display-name') return;
    expect(await verify(identity.peerId, displayNameMessage(identity.peerId, 'Ada'), frame.signature)).toBe(true);
    expect(store.map.get('display-name:provider')).toBe('Ada');
  });

  it('NAME1: a bad name is explained, not sent and not stored; blank text clears the name', async () => {
    const { store, sent, names } = await setup();
    expect(await names.set('p\u0430ypal')).toMatch(/^Name not saved: letters from several scripts/);
    expect(sent).toEqual([]);
    await names.set('Ada');
    await names.set('   ');
    expect(store.map.has('display-name:provider')).toBe(false);
    expect(sent.map((m) => (m.type === 'display-name' ? m.name : m.type))).toEqual(['Ada', '']);
  });

  it('NAME2: a name the server refuses is shown with its reason and not resent after a reload', async () => {
    const { store, names, ack } = await setup();
    await names.set('Ada');
    ack({ accepted: false, name: null, message: 'no leading, trailing or double spaces' });
    await Promise.resolve();
    expect(names.view.get().error).toBe('The server refused the name: no leading, trailing or double spaces.');
    expect(store.map.has('display-name:provider')).toBe(false);
  });

  it('NAME3: a stored name that does not validate is ignored on start', async () => {
    const { store, sent, names } = await setup();
    store.map.set('display-name:provider', 'evil\u202Ename');
    await names.start();
    expect(sent).toEqual([]);
    expect(names.view.get().chosen).toBeNull();
  });
});
