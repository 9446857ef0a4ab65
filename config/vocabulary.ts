// The closed word lists of the configuration: what schema.ts offers as enums, and what the running
// gateway checks commands, severities and roles against. A module of their own, free of the schema
// library, so the running gateway does not load TypeBox's few hundred modules (~12 MB of RSS) just
// for these lists: the configuration is validated in a child process that exits (config/isolated.ts).

export const UpstreamFormats = ['json', 'sparkplug', 'influx'] as const;
/** Commands the box obeys (docs/commands.md): from an upstream on …/cmd/{verb}, or the HTTP API. */
export const CommandVerbs = ['set-alarm', 'ack-alarm', 'shelve-alarm', 'unshelve-alarm', 'disable-alarm', 'enable-alarm', 'write'] as const;
export const ModbusTables = ['hr', 'ir', 'co', 'di'] as const;
export const TagTypes = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'int64', 'uint64', 'float64', 'string'] as const;
export const WordOrders = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
/** Payload formats of battery sensors (docs/drivers/lorawan-codecs.md); `object`: decoded by the network server. */
export const SensorCodecs = ['bosch-pls', 'cityedge-parking-v1', 'cityedge-manhole-v1', 'cityedge-waterlog-v1', 'object'] as const;
export const OpcuaSecurityModes = ['None', 'Sign', 'SignAndEncrypt'] as const;
export const OpcuaSecurityPolicies = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export const Severities = ['critical', 'major', 'minor', 'warning', 'info'] as const;
export const ApiRoles = ['admin', 'engineer', 'viewer'] as const;
