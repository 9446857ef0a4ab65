// cityedge-manhole-v1: manhole cover monitor, 井盖 (docs/drivers/lorawan-codecs.md
// § cityedge-manhole-v1). fPort 1 (alarm event, sent at once) and fPort 2 (heartbeat) share one
// 10-byte layout; only the kind differs.
import type { Codec, Fields } from './index.ts';
import { bit, i8, NO_READING_U16, u16, u8 } from './bytes.ts';

export const cityedgeManholeV1: Codec = {
  name: 'cityedge-manhole-v1',
  fields: {
    cover_open: 'boolean', water_alarm: 'boolean', tilt_alarm: 'boolean', methane_alarm: 'boolean',
    tilt_deg: 'number', water_level_cm: 'number', methane_ppm: 'number',
    battery: 'number', temperature: 'number', rssi_dbm: 'number',
  },
  ports: {
    1: { length: 10, kind: 'event' },
    2: { length: 10, kind: 'heartbeat' },
  },
  decode(_fPort: number, f: Uint8Array): Fields {
    const water = u16(f, 3);
    const methane = u16(f, 5);
    return {
      cover_open: bit(f, 0, 0), water_alarm: bit(f, 0, 1), tilt_alarm: bit(f, 0, 2), methane_alarm: bit(f, 0, 3),
      // 0.1° steps. Division, not × 0.1: n / 10 is the double nearest to the decimal n/10, so 150
      // gives 15 and 3 gives 0.3 (3 × 0.1 would give 0.30000000000000004).
      tilt_deg: u16(f, 1) / 10,
      water_level_cm: water === NO_READING_U16 ? null : water,
      methane_ppm: methane === NO_READING_U16 ? null : methane,
      battery: u8(f, 7), temperature: i8(f, 8), rssi_dbm: i8(f, 9),
    };
  },
};
