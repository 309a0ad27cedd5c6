import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from './usage-error.js';

/** An asymmetric verification key and the one algorithm tokens signed for it must use. */
export interface PublicVerificationKey {
  readonly key: KeyObject;
  readonly algorithm: 'RS256' | 'ES256';
}

/**
 * The key for `--jwt-public-key`: PEM text itself (handy in an env var) or the path of a PEM
 * file, holding a public key (SPKI or PKCS#1) or an X.509 certificate. RSA keys verify RS256
 * (2048 bits at least), P-256 keys ES256. A private key is refused: it does not belong here.
 */
export function loadPublicKey(value: string, source: string, readText: (path: string) => string = (path) => readFileSync(path, 'utf8')): PublicVerificationKey {
  let pem = value;
  if (!value.trimStart().startsWith('-----BEGIN')) {
    try {
      pem = readText(value);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(`${source}: cannot read ${value}: ${code === 'ENOENT' ? 'no such file' : String(code ?? error)}`);
    }
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new UsageError(`${source} holds a private key; give the public key (openssl pkey -pubout) and keep the private one with the token issuer`);
  }
  let key: KeyObject;
  try {
    key = pem.includes('-----BEGIN CERTIFICATE-----') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  } catch {
    throw new UsageError(`${source} is not a PEM public key or certificate`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new UsageError(`${source} is a ${bits}-bit RSA key; RS256 needs 2048 bits or more`);
    return { key, algorithm: 'RS256' };
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { key, algorithm: 'ES256' };
  throw new UsageError(`${source} is a ${key.asymmetricKeyType ?? 'unknown'} key; use an RSA key (RS256) or a P-256 EC key (ES256)`);
}
