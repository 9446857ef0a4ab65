// Certificates for TLS tests, made by openssl in a temp dir: a CA, a broker certificate for
// 127.0.0.1 signed by it, a client certificate signed by it (mutual TLS), and a stranger: a second
// CA with a client certificate of its own, which the broker must refuse. EC keys: fast to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardownable } from './proc.ts';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string; serverKey: string;
  clientCert: string; clientKey: string;
  /** Signed by another CA. */
  strangerCa: string; strangerCert: string; strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')}: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message} (openssl comes with Debian's "openssl" package)`);
  }
}

export function makeCerts(t: Teardownable): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) => openssl(dir, ['req', '-x509', ...key, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
  const leaf = (name: string, cn: string, signer: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  ca('test-ca');
  leaf('server', '127.0.0.1', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ps-gongshu-012', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  ca('stranger-ca');
  leaf('stranger', 'ps-gongshu-012', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return {
    dir, ca: f('test-ca.crt'),
    serverCert: f('server.crt'), serverKey: f('server.key'),
    clientCert: f('client.crt'), clientKey: f('client.key'),
    strangerCa: f('stranger-ca.crt'), strangerCert: f('stranger.crt'), strangerKey: f('stranger.key'),
  };
}

/** mosquitto.conf lines for a mutual-TLS listener: a client certificate from our CA, its CN as the user. */
export function tlsListener(port: number, c: TestCerts): string[] {
  return [
    `listener ${port} 127.0.0.1`,
    `cafile ${c.ca}`, `certfile ${c.serverCert}`, `keyfile ${c.serverKey}`,
    'require_certificate true', 'use_identity_as_username true',
  ];
}
