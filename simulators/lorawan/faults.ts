// What goes wrong between a sensor and the gateway, so that the gateway's rejection counting can be
// tested: a duplicate (two gateways heard the transmission and the network server's deduplication
// failed: same fCnt, same frame, another gateway's rxInfo, another deduplicationId), and malformed
// events. Each malformed event is a transmission of its own with the device's next fCnt, so the
// valid frames of a device still carry strictly increasing counters (with a gap where one was bad).
import { PORT_LENGTHS } from './encode.ts';
import { eventBody, topicFor, type BuildOptions, type MalformedReason, type Uplink } from './message.ts';

export interface Published { topic: string; payload: string }

/** Ports LoRaWAN allows for application data (1–223) that no codec of ours knows. */
const FOREIGN_PORTS = [3, 10, 99, 200] as const;

/** The copy a second gateway delivered, published as if deduplication had not merged it. */
export function duplicateOf(u: Uplink, gateways: readonly string[], fresh: { deduplicationId: string; time: Date }): Uplink {
  const heard = new Set(u.rx.map((r) => r.gatewayId));
  const other = gateways.find((g) => !heard.has(g)) ?? u.rx[u.rx.length - 1]!.gatewayId;
  const best = u.rx[0]!;
  return { ...u, ...fresh, rx: [{ gatewayId: other, rssi: best.rssi - 7, snr: Math.max(-20, best.snr - 2.5) }] };
}

/**
 * A malformed event built from a well-formed transmission `u` (a fresh one: its own fCnt):
 * - `bad-json`: the body cut off part-way, as a truncated publish would be;
 * - `bad-base64`: `data` with characters outside the base64 alphabet (Node's Buffer.from skips
 *   them without complaint: a gateway must check the alphabet itself);
 * - `short-frame`: one byte shorter than the port's minimum length (codec doc: refused);
 * - `wrong-fport`: the frame on a port the codec does not know (codec doc: refused);
 * - `unknown-dev-eui`: a well-formed uplink; the caller makes `u` a stranger's (a device registered
 *   in the network server's application but not in the gateway's config), with the stranger's fCnt.
 * A network server with a codec cannot decode the first four, so they carry no `object`.
 */
export function malformed(reason: MalformedReason, u: Uplink, frame: Buffer, o: BuildOptions): Published {
  const topic = topicFor(o.format, o.net.applicationId, u.sensor.devEui);
  const raw: Uplink = { ...u };
  delete raw.object;
  switch (reason) {
    case 'bad-json': {
      const text = JSON.stringify(eventBody(raw, o));
      return { topic, payload: text.slice(0, Math.floor(text.length * 0.6)) };
    }
    case 'bad-base64':
      return { topic, payload: JSON.stringify(eventBody({ ...raw, data: `${u.data.replace(/=+$/, '')}!*` }, o)) };
    case 'short-frame': {
      const min = PORT_LENGTHS[u.sensor.codec][u.fPort] ?? 1;
      return { topic, payload: JSON.stringify(eventBody({ ...raw, data: frame.subarray(0, min - 1).toString('base64') }, o)) };
    }
    case 'wrong-fport': {
      const known = PORT_LENGTHS[u.sensor.codec];
      const port = FOREIGN_PORTS.find((p) => known[p] === undefined && p !== u.fPort)!;
      return { topic, payload: JSON.stringify(eventBody({ ...raw, fPort: port }, o)) };
    }
    case 'unknown-dev-eui':
      return { topic, payload: JSON.stringify(eventBody(u, o)) };
  }
}
