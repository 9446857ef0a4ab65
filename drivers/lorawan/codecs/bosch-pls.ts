// bosch-pls: geomagnetic parking bay sensor (docs/drivers/lorawan-codecs.md § bosch-pls; DOMAIN.md §4).
import type { Codec, Fields } from './index.ts';
import { bit, i8 } from './bytes.ts';

export const boschPls: Codec = {
  name: 'bosch-pls',
  fields: { occupied: 'boolean', temperature: 'number' },
  ports: {
    1: { length: 1, kind: 'status' }, // status on change
    2: { length: 2, kind: 'heartbeat' },
  },
  decode(fPort: number, f: Uint8Array): Fields {
    switch (fPort) {
      case 1: return { occupied: bit(f, 0, 0) };
      case 2: return { occupied: bit(f, 0, 0), temperature: i8(f, 1) };
      default: return {}; // unreachable: decodeFrame refuses ports missing from `ports`
    }
  },
};
