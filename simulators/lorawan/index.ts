// A LoRaWAN network server stand-in (ChirpStack v4/v3 MQTT integration) for parking-bay, manhole and
// water-logging sensors, written from docs/drivers/lorawan-codecs.md and ChirpStack's event format.
export { startLorawanNs, type LorawanNs, type LorawanNsOptions, type NsStats } from './server.ts';
export { LorawanWorld, sensorList, MAX_SUBSTEP_S, type LotSpec, type SensorSpec, type WorldOptions, type Rain } from './world.ts';
export { encodeBoschPls, encodeParkingV1, encodeManholeV1, encodeWaterlogV1, CODECS, PORT_LENGTHS, type Codec, type ParkingCodec, type DecodedObject, type Encoded } from './encode.ts';
export { MALFORMED_REASONS, topicFor, type Format, type MalformedReason, type Uplink } from './message.ts';
export { MANHOLE_LIMITS } from './manhole.ts';
export { reportIntervalMin, WET_CM } from './waterlog.ts';
export { sensorConfigYaml, deviceBlocks } from './config.ts';
export type { SensorInfo, SensorKind, WorldUplink, UplinkReason } from './types.ts';
