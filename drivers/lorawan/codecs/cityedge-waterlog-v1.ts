// cityedge-waterlog-v1: road water-logging depth sensor, 积水点 (docs/drivers/lorawan-codecs.md
// § cityedge-waterlog-v1). One 5-byte measurement on fPort 1.
import type { Codec, Fields } from './index.ts';
import { bit, NO_READING_U16, u16, u8 } from './bytes.ts';

export const cityedgeWaterlogV1: Codec = {
  name: 'cityedge-waterlog-v1',
  fields: { depth_cm: 'number', fault: 'boolean', wet: 'boolean', battery: 'number', interval_min: 'number' },
  ports: {
    1: { length: 5, kind: 'measurement' },
  },
  decode(_fPort: number, f: Uint8Array): Fields {
    const depthMm = u16(f, 0);
    // `fault` is the flag bit as sent. The depth is unknown when the sensor flags a fault or sends
    // the 0xFFFF sentinel; either way depth_cm is null, never 6553.5.
    const fault = bit(f, 3, 0);
    return {
      // mm → cm by division: n / 10 is the double nearest to the decimal n/10 (450 → 45, 3 → 0.3).
      depth_cm: fault || depthMm === NO_READING_U16 ? null : depthMm / 10,
      fault, wet: bit(f, 3, 1), battery: u8(f, 2), interval_min: u8(f, 4),
    };
  },
};
