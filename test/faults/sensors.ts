// The fault campaign's sensors: water-logging monitors (cityedge-waterlog-v1) behind a network
// server, published as ChirpStack v4 uplink events to the network server's broker, and a flood of
// malformed events on demand. An uplink counts as produced once that broker acknowledged it (QoS 1):
// from then on it is the box's to keep. Each uplink's depth differs from the one before, so each one
// is a sample the box must pass on, identified by its sensor and its network-server time.
import mqtt, { type MqttClient } from 'mqtt';
import { encodeWaterlogV1 } from '../../simulators/lorawan/encode.ts';
import { MALFORMED_REASONS } from '../../simulators/lorawan/message.ts';

export const APPLICATION_ID = '5f0b8c2e-6a0f-4c5e-9d21-7e3f1a2b4c5d';

export interface SensorSpec { name: string; devEui: string }
export interface Produced { sensor: string; t: number; depthCm: number }

export function sensorSpecs(n: number): SensorSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: `wl${String(i + 1).padStart(3, '0')}`, devEui: `a8404100f0a1${(i + 1).toString(16).padStart(4, '0')}` }));
}

function event(s: SensorSpec, fCnt: number, time: Date, data: string, fPort = 1): Record<string, unknown> {
  return {
    deduplicationId: `00000000-0000-4000-8000-${fCnt.toString(16).padStart(12, '0')}`,
    time: time.toISOString().replace('Z', '+00:00'),
    deviceInfo: { applicationId: APPLICATION_ID, applicationName: 'waterlog', deviceName: s.name, devEui: s.devEui, deviceProfileName: 'cityedge-waterlog-v1' },
    devAddr: '01020304', adr: true, dr: 3, fCnt, fPort, confirmed: false, data,
    rxInfo: [{ gatewayId: '0016c001ff10a235', rssi: -90 - (fCnt % 20), snr: 5.5, channel: 2, crcStatus: 'CRC_OK' }],
  };
}

const topic = (s: SensorSpec): string => `application/${APPLICATION_ID}/device/${s.devEui}/event/up`;

export class SensorFleet {
  readonly produced: Produced[] = [];
  /** Publishes the broker did not acknowledge (it was down): not produced, the sensor's loss. */
  unacknowledged = 0;
  malformedSent = 0;
  readonly #fCnt: number[];
  #client: MqttClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #next = 0;

  constructor(readonly sensors: readonly SensorSpec[], readonly everyMs: number) { this.#fCnt = sensors.map(() => 0); }

  async start(url: string): Promise<void> {
    this.#client = await mqtt.connectAsync(url, { clientId: 'faults-network-server', protocolVersion: 4, reconnectPeriod: 500 });
    // One sensor per tick, round robin: each reports every `everyMs`, spread evenly.
    const tickMs = Math.max(5, Math.round(this.everyMs / this.sensors.length));
    this.#timer = setInterval(() => this.#uplink(), tickMs);
  }

  #uplink(): void {
    const i = this.#next;
    this.#next = (this.#next + 1) % this.sensors.length;
    const s = this.sensors[i]!;
    const fCnt = ++this.#fCnt[i]!;
    const depthMm = 1 + (fCnt % 3000); // never the same twice running: report by exception passes each
    const { frame } = encodeWaterlogV1({ depthMm, battery: 90, fault: false, wet: depthMm > 50, intervalMin: 1 });
    const time = new Date();
    this.#client?.publish(topic(s), JSON.stringify(event(s, fCnt, time, frame.toString('base64'))), { qos: 1 }, (err) => {
      if (err) this.unacknowledged++;
      else this.produced.push({ sensor: s.name, t: time.getTime(), depthCm: depthMm / 10 });
    });
  }

  /** `count` malformed events, each a transmission of its own (its own fCnt), as fast as the broker takes them. */
  async flood(count: number): Promise<void> {
    const c = this.#client;
    if (!c) return;
    for (let k = 0; k < count; k++) {
      const i = k % this.sensors.length;
      const s = this.sensors[i]!;
      const fCnt = ++this.#fCnt[i]!;
      const good = encodeWaterlogV1({ depthMm: 100, battery: 90, fault: false, wet: true, intervalMin: 1 }).frame;
      const reason = MALFORMED_REASONS[k % MALFORMED_REASONS.length];
      let payload: string;
      switch (reason) {
        case 'bad-json': payload = JSON.stringify(event(s, fCnt, new Date(), good.toString('base64'))).slice(0, 80); break;
        case 'bad-base64': payload = JSON.stringify(event(s, fCnt, new Date(), '**not base64**')); break;
        case 'short-frame': payload = JSON.stringify(event(s, fCnt, new Date(), good.subarray(0, 2).toString('base64'))); break;
        case 'wrong-fport': payload = JSON.stringify(event(s, fCnt, new Date(), good.toString('base64'), 99)); break;
        default: payload = JSON.stringify(event({ name: 'stranger', devEui: 'ffffffff00000000' }, k + 1, new Date(), good.toString('base64')));
      }
      await c.publishAsync(reason === 'unknown-dev-eui' ? topic({ name: 'stranger', devEui: 'ffffffff00000000' }) : topic(s), payload, { qos: 1 });
      this.malformedSent++;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#client?.endAsync().catch(() => {});
  }
}
