// mqtt.js's outgoing store for cityedge's connections: it remembers which packet ids await their
// acknowledgement, not the packets.
//
// mqtt.js keeps a deep copy of every QoS 1 PUBLISH, payload included, in its default store until
// the PUBACK, so that the same client can send it again after a reconnect. cityedge never reuses a
// client: each connection is a new one (reconnectPeriod 0, cloud-sync/mqtt-link.ts), and what was
// not acknowledged is sent again from the journal. The copies only cost memory, and more than their
// size suggests: measured at 10,000 points/s (bench:modbus, --trace-gc-nvp), payloads held there
// were promoted to V8's old generation at ~110 KB per scavenge although their PUBACK came within
// 2 ms; with this store, 15 KB, as with QoS 0. (A stand-alone mqtt.js client shows the same: 158 KB
// against 27 KB.)
import { Readable } from 'node:stream';
import type { IStore } from 'mqtt';

type Packet = Parameters<IStore['put']>[0];

export class PacketIdStore implements IStore {
  readonly #ids = new Map<number, Packet>();

  put(packet: Packet, cb: (err?: Error) => void): this {
    const id = (packet as { messageId?: number }).messageId;
    // What mqtt.js needs back from del/get: the kind of packet and its id, not its payload.
    if (id !== undefined) this.#ids.set(id, { cmd: packet.cmd, messageId: id } as Packet);
    cb?.();
    return this;
  }

  del(packet: { messageId?: number }, cb: (err?: Error, packet?: Packet) => void): this {
    const stub = packet.messageId === undefined ? undefined : this.#ids.get(packet.messageId);
    if (stub) {
      this.#ids.delete(packet.messageId!);
      cb(undefined, stub);
    } else cb?.(new Error('missing packet'));
    return this;
  }

  get(packet: { messageId?: number }, cb: (err?: Error, packet?: Packet) => void): this {
    const stub = packet.messageId === undefined ? undefined : this.#ids.get(packet.messageId);
    if (stub) cb(undefined, stub); else cb?.(new Error('missing packet'));
    return this;
  }

  /**
   * What mqtt.js would send again when this client reconnects: nothing. A cityedge client never
   * reconnects, and a stub is not a packet.
   */
  createStream(): ReturnType<IStore['createStream']> {
    return Readable.from([]) as unknown as ReturnType<IStore['createStream']>;
  }

  close(cb: () => void): void {
    this.#ids.clear();
    cb?.();
  }
}
