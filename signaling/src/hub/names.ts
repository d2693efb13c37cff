/**
 * Providers' leaderboard names: signed by their own key, checked against NAME1 (SPEC NAME2), and published
 * on the shared log, so every instance's leaderboard shows them (NAME3).
 */
import { verify } from '@shared/identity';
import { checkDisplayName, displayNameMessage, type ClientMessageOf } from '@shared/protocol';
import type { Connection } from './connection';
import type { HubContext } from './context';
import type { Replica } from './replica';

export class DisplayNames {
  constructor(
    private readonly ctx: HubContext,
    private readonly replica: Replica,
  ) {}

  async onDisplayName(conn: Connection, peerId: string, message: ClientMessageOf<'display-name'>): Promise<void> {
    const { ledger, wire } = this.ctx;
    const refuse = (why: string) =>
      wire.send(conn, { type: 'display-name-ack', accepted: false, name: ledger.nameOf(peerId), message: why });
    if (!(await verify(peerId, displayNameMessage(peerId, message.name), message.signature)))
      return refuse('the signature does not verify for this key; the name was not changed');
    if (conn.closed) return;
    if (message.name === '') {
      await this.replica.publish({ op: 'name', peer: peerId, name: null });
      return wire.send(conn, { type: 'display-name-ack', accepted: true, name: null, message: 'name cleared' });
    }
    const checked = checkDisplayName(message.name);
    if (!checked.ok) return refuse(checked.message);
    await this.replica.publish({ op: 'name', peer: peerId, name: checked.name });
    wire.send(conn, { type: 'display-name-ack', accepted: true, name: checked.name, message: 'name set' });
  }
}
