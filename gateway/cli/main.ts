// `cityedge VERB …`: the one dispatch of the command line. Each verb lives in its own file.
import { VERSION } from '../version.ts';

const USAGE = `cityedge ${VERSION}: edge gateway for city infrastructure

usage:
  cityedge run --config FILE [--trust]
                                    run the gateway (--trust: trust OPC UA servers met for the first time)
  cityedge check --config FILE      validate a configuration and print the read plan
  cityedge provision [--template KIND] [--out DIR] [--yes] …
                                    a box's first configuration, asked for on site (docs/provisioning.md)
  cityedge scan modbus://HOST:PORT [--unit 1] [--range hr:0-200]… [--timeout-ms 500] [--block 10] [--json]
                                    which registers of a Modbus TCP device answer, and config lines for them
  cityedge status [--url http://127.0.0.1:8080] [--token T] [--json] [--watch N]
                                    a running gateway's devices, journal, upstreams and alarms
                                    (exit 0 all well, 1 something degraded or down, 3 API unreachable)
  cityedge passwd --config FILE --user NAME [--role admin|engineer|viewer]
                                    set or change a console user's password in a configuration
  cityedge browse opc.tcp://HOST:PORT [--select REGEX] [--paths] [--user U --password P]
                                    an OPC UA server's variables, and config lines for them
  cityedge demo                     simulators + broker + gateway on loopback
  cityedge sim KIND [--port N]      run a device simulator (KIND: pump-station, opcua, streetlights, lorawan, camera)
  cityedge token --user NAME [--role engineer|viewer]
                                    a bearer token for the HTTP API, and its config line
  cityedge ingest --broker URL --influx URL --bucket B [--org O] [--token T] [--group G]
                                    the platform side: boxes' telemetry from a broker into InfluxDB
  cityedge --version
`;

const verbs: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  run: () => import('./run.ts'),
  check: () => import('./check.ts'),
  provision: () => import('./provision.ts'),
  scan: () => import('./scan.ts'),
  status: () => import('./status.ts'),
  passwd: () => import('./passwd.ts'),
  browse: () => import('./browse.ts'),
  demo: () => import('./demo.ts'),
  sim: () => import('./sim.ts'),
  token: () => import('./token.ts'),
  ingest: () => import('./ingest.ts'),
};

const [verb, ...rest] = process.argv.slice(2);
if (verb === '--version' || verb === '-v') {
  console.log(VERSION);
} else if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
  process.stdout.write(USAGE);
} else if (!(verb in verbs)) {
  process.stderr.write(`cityedge: unknown command "${verb}"\n\n${USAGE}`);
  process.exitCode = 2;
} else {
  try {
    const code = await (await verbs[verb]!()).main(rest);
    if (code !== 0) process.exitCode = code;
  } catch (e) {
    process.stderr.write(`cityedge ${verb}: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
