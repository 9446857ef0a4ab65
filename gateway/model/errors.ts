// One registry of coded errors. Each code has a message a technician understands and a hint of
// what to do; docs/errors.md lists every code (a test fails when one is missing there).
export const ErrorCodes = {
  CE_ERR_CONFIG_READ: { message: 'cannot read the configuration file', hint: 'check the path and permissions' },
  CE_ERR_CONFIG_YAML: { message: 'the configuration file is not valid YAML', hint: 'check indentation and quoting near the line shown' },
  CE_ERR_CONFIG_INVALID: { message: 'the configuration does not match the schema', hint: 'see docs/config.md for every key' },
  CE_ERR_MODBUS_TIMEOUT: { message: 'the Modbus device did not answer in time', hint: 'check cabling, IP address, port and unit id; raise timeout_ms for slow links' },
  CE_ERR_MODBUS_CONNECT: { message: 'cannot connect to the Modbus device', hint: 'check that the device is powered and reachable on host:port' },
  CE_ERR_MODBUS_EXCEPTION: { message: 'the Modbus device answered with an exception', hint: 'see the exception code: 02 means an address the device does not have' },
  CE_ERR_MODBUS_ILLEGAL_ADDRESS: { message: 'the device has no such address (exception 02); the tag is isolated', hint: 'check the tag address against the device register map' },
  CE_ERR_MODBUS_DECODE: { message: 'the value read cannot be decoded as the configured type', hint: 'check type, order and length of the tag' },
  CE_ERR_DEVICE_DISCONNECTED: { message: 'the device connection was lost', hint: 'the gateway reconnects with backoff by itself' },
  CE_ERR_SCAN_OVERRUN: { message: 'a scan took longer than its poll interval', hint: 'raise poll_ms, lower the tag count, or bridge gaps with max_gap' },
  CE_ERR_UPSTREAM_CONNECT: { message: 'cannot connect to the upstream broker', hint: 'check the URL, credentials and network; data is kept in the journal meanwhile' },
  CE_ERR_UPSTREAM_TLS: { message: 'the TLS handshake with the upstream failed, or its certificate files cannot be read', hint: 'check tls.ca (the CA that signed the broker), tls.cert / tls.key (the box\'s client certificate), the broker host name against its certificate, and the box\'s clock' },
  CE_ERR_UPSTREAM_WRITE: { message: 'cannot write to the time-series server; the data is kept in the journal', hint: 'check url, token, org and bucket, and that the server runs; the box retries with backoff' },
  CE_ERR_UPSTREAM_REJECTED: { message: 'the time-series server refused a record; it was dropped', hint: 'read the server\'s message in the log: usually a field whose type changed; rename the tag or drop the field in the store' },
  CE_ERR_UPSTREAM_PUBLISH: { message: 'the upstream broker refused a publish, or it was larger than the broker takes', hint: 'check the broker ACL for the topic prefix; for a message over the broker\'s maximum packet size, raise it (mosquitto: max_packet_size)' },
  CE_ERR_JOURNAL_OPEN: { message: 'cannot open the journal file', hint: 'check that buffer.path exists, is writable and has free space' },
  CE_ERR_JOURNAL_LOCKED: { message: 'the journal file is in use by another process', hint: 'stop the other cityedge, or give each gateway its own buffer.path' },
  CE_ERR_JOURNAL_DAMAGED: { message: 'the journal file was damaged; it was moved aside and what could be read was recovered', hint: 'keep the moved file for analysis; check the disk and the power supply of the box' },
  CE_ERR_JOURNAL_WRITE: { message: 'cannot write to the journal; data waits in memory meanwhile', hint: 'free space on the disk of buffer.path, or lower buffer.max_bytes; check the storage for errors' },
  CE_ERR_JOURNAL_FULL: { message: 'the journal reached its quota; the oldest telemetry is being dropped', hint: 'raise buffer.max_bytes (docs/durability.md sizes it) or restore the upstream link' },
  CE_ERR_ALARM_STATE: { message: 'alarm states cannot be saved or read', hint: 'check that buffer.path is writable; alarms keep working, but a restart forgets their states' },
  CE_ERR_ALARM_OVERRIDES: { message: 'the alarm overrides file cannot be read or written', hint: 'check buffer.path; the limits of the configuration apply until it is fixed' },
  CE_ERR_CMD_MALFORMED: { message: 'the command is not a JSON object', hint: 'send one JSON object per command (docs/commands.md)' },
  CE_ERR_CMD_UNKNOWN: { message: 'no command of that name', hint: 'see docs/commands.md for the verbs' },
  CE_ERR_CMD_FORBIDDEN: { message: 'this sender may not give this command', hint: 'list the verb in the upstream\'s commands, or use an engineer account' },
  CE_ERR_CMD_INVALID: { message: 'the command was refused; nothing was changed', hint: 'see the reason; docs/commands.md lists each field' },
  CE_ERR_CMD_NO_RULE: { message: 'no alarm rule of that id', hint: 'GET /api/alarms lists the rules' },
  CE_ERR_CMD_CONFLICT: { message: 'the alarm settings changed since the version the command names', hint: 'read the current version and send the change again' },
  CE_ERR_API_LISTEN: { message: 'the HTTP API cannot listen on its address', hint: 'check api.host and api.port; another program may hold the port' },
  CE_ERR_LOGIN: { message: 'the console login was refused: unknown user or wrong password', hint: 'cityedge passwd --config FILE --user NAME sets a password' },
  CE_ERR_LOGIN_LOCKED: { message: 'too many failed logins from this address or for this user: wait before trying again', hint: 'the wait doubles with each further failure, up to 15 minutes' },
  CE_ERR_CSRF: { message: 'a console request that changes something came without its session\'s x-csrf-token header, or from another origin', hint: 'reload the console page' },
  CE_ERR_TRENDS: { message: 'the trend store (trends.db) could not be written or read; the gateway goes on, the chart has a gap', hint: 'check free space in buffer.path' },
  CE_ERR_OPCUA_CONNECT: { message: 'cannot connect to the OPC UA server', hint: 'check the endpoint URL, that the server runs, and the firewall; the gateway retries with backoff' },
  CE_ERR_OPCUA_SECURITY: { message: 'the OPC UA server and the gateway do not trust each other', hint: 'trust the server certificate (docs/drivers/opcua.md), check username and password, and that the server trusts the gateway certificate' },
  CE_ERR_OPCUA_NODE: { message: 'the OPC UA server has no such node; the tag is bad, the others read on', hint: 'check node or path with cityedge browse opc.tcp://host:port' },
  CE_ERR_WRITE_FORBIDDEN: { message: 'this tag may not be written', hint: 'only tags marked writable: true in the configuration can be written' },
  CE_ERR_WRITE_RANGE: { message: 'the value is outside what the tag accepts', hint: 'see the tag\'s min, max and data type' },
  CE_ERR_WRITE_REFUSED: { message: 'the device refused the write', hint: 'see the device\'s answer; the tag may be read-only on the device or locked in local mode' },
  CE_ERR_BROKER_LISTEN: { message: 'the box\'s MQTT broker cannot listen on its address', hint: 'check broker.host and broker.port; another program (a system mosquitto) may hold the port' },
  CE_ERR_BROKER_REFUSED: { message: 'the box\'s MQTT broker refused a client', hint: 'check the client\'s username, password and topics against broker.users' },
  CE_ERR_SENSOR_PAYLOAD: { message: 'sensor uplinks were rejected', hint: 'see the counts by reason; check the sensor\'s codec and the network server\'s configuration' },
  CE_ERR_DRIVER_UNKNOWN: { message: 'no driver of that name in this build', hint: 'see docs/config.md for the drivers available' },
  CE_ERR_CAMERA_SNAPSHOT: { message: 'no snapshot could be taken from the camera', hint: 'check the camera\'s URL, user and password, and that the box reaches it (ffmpeg -rtsp_transport tcp -i URL); raise snapshot_timeout_s for a slow camera' },
} as const satisfies Record<string, { message: string; hint: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, detail?: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    const def = ErrorCodes[code];
    super(detail ? `${def.message}: ${detail}` : def.message, options);
    this.name = 'CodedError';
    this.code = code;
    this.hint = def.hint;
    this.details = details;
  }
}

export const isCoded = (e: unknown, code?: ErrorCode): e is CodedError =>
  e instanceof CodedError && (code === undefined || e.code === code);
