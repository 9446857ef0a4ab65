// cityedge-parking-v1: geomagnetic bay sensor with an interference flag
// (docs/drivers/lorawan-codecs.md § cityedge-parking-v1). fPort 2 is the 8 status bytes plus 3.
import type { Codec, Fields } from './index.ts';
import { bit, i16, i8, u16, u8 } from './bytes.ts';

export const cityedgeParkingV1: Codec = {
  name: 'cityedge-parking-v1',
  fields: {
    occupied: 'boolean', interference: 'boolean', battery: 'number',
    mag_x: 'number', mag_y: 'number', mag_z: 'number',
    temperature: 'number', heartbeat_min: 'number',
  },
  ports: {
    1: { length: 8, kind: 'status' },
    2: { length: 11, kind: 'heartbeat' },
  },
  decode(fPort: number, f: Uint8Array): Fields {
    // Byte 0 bit 1: magnetic interference makes the occupied bit meaningless, so occupied is null
    // (unknown), never a flip (DOMAIN.md §4: "treat magnetic interference as unknown").
    const interference = bit(f, 0, 1);
    const occupied = interference ? null : bit(f, 0, 0);
    switch (fPort) {
      case 1: return {
        occupied, interference, battery: u8(f, 1),
        mag_x: i16(f, 2), mag_y: i16(f, 4), mag_z: i16(f, 6),
      };
      case 2: return {
        occupied, interference, battery: u8(f, 1),
        mag_x: i16(f, 2), mag_y: i16(f, 4), mag_z: i16(f, 6),
        temperature: i8(f, 8), heartbeat_min: u16(f, 9),
      };
      default: return {}; // unreachable: decodeFrame refuses ports missing from `ports`
    }
  },
};
