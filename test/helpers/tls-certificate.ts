/**
 * A self-signed certificate for `localhost` and 127.0.0.1, made with `openssl` for one test
 * file (valid one day), for TLS servers on loopback.
 *
 * Skip rule: without `openssl` the tests skip and say why, except on CI (`CI=true`), where they
 * then fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** A reason when no certificate could be made (the `skip` option of the tests that need one). */
  readonly skip: string | false;
  readonly key: Buffer;
  readonly cert: Buffer;
  /** The certificate's file, for `NODE_EXTRA_CA_CERTS`. */
  readonly certPath: string;
  /** Deletes the files. */
  remove(): void;
}

export function testCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore', timeout: 30_000 },
  );
  const ok = made.status === 0;
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  if (!ok && process.env.CI === 'true') throw new Error('openssl could not make a test certificate (CI=true: TLS tests may not skip)');
  return {
    skip: ok ? false : 'openssl is not available to make a test certificate',
    key: ok ? readFileSync(keyPath) : Buffer.alloc(0),
    cert: ok ? readFileSync(certPath) : Buffer.alloc(0),
    certPath,
    remove,
  };
}
