// The tag names a device has, whatever its driver: a Modbus or OPC UA device lists them; a LoRaWAN
// device has {sensor}_{field} for each sensor and each field of its codec, the radio's view of each
// sensor, and a lot's bay counts. One list for the alarm references, report by exception and the
// read plan, so they cannot disagree about what a device reports.
import type { DeviceConfig, LorawanDeviceConfig } from './schema.ts';

/**
 * Fields each codec decodes (docs/drivers/lorawan-codecs.md). The decoders in drivers/lorawan/codecs
 * keep their own list; a test holds the two equal.
 */
export const SENSOR_FIELDS = {
  'bosch-pls': ['occupied', 'temperature'],
  'cityedge-parking-v1': ['occupied', 'interference', 'battery', 'mag_x', 'mag_y', 'mag_z', 'temperature', 'heartbeat_min'],
  'cityedge-manhole-v1': ['cover_open', 'water_alarm', 'tilt_alarm', 'methane_alarm', 'tilt_deg', 'water_level_cm', 'methane_ppm', 'battery', 'temperature', 'rssi_dbm'],
  'cityedge-waterlog-v1': ['depth_cm', 'fault', 'wet', 'battery', 'interval_min'],
} as const;

/** What the network server says of every uplink, and whether the sensor is heard at all. */
export const RADIO_FIELDS = ['rssi', 'snr', 'online'] as const;
/** A parking lot's summary, on the lot's device. */
export const LOT_TAGS = ['bays_free', 'bays_occupied', 'bays_unknown'] as const;

export function sensorFields(d: LorawanDeviceConfig): readonly string[] {
  return [...(d.codec === 'object' ? d.fields ?? [] : SENSOR_FIELDS[d.codec]), ...RADIO_FIELDS];
}

export function tagNamesOf(d: DeviceConfig): string[] {
  if (d.driver !== 'lorawan') return d.tags.map((t) => t.name);
  const fields = sensorFields(d);
  return [...d.sensors.flatMap((s) => fields.map((f) => `${s.name}_${f}`)), ...(d.lot !== undefined ? LOT_TAGS : [])];
}
