import type { ProbeFailure } from './probe-timing.js';

/**
 * A failed probe step in words: the system error code (ECONNREFUSED, a certificate error...)
 * turned into what it most likely means and what to check. Pure.
 */
export interface FailureContext {
  readonly host: string;
  readonly port: number;
  /** The address the TCP step tried last, if it got that far. */
  readonly address?: string | undefined;
}

const untrusted = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

const during: Readonly<Record<ProbeFailure['phase'], string>> = {
  dns: 'looking up the name',
  tcp: 'connecting over TCP',
  tls: 'the TLS handshake',
  handshake: 'the opening handshake',
  ping: 'waiting for the pong',
  close: 'the closing handshake',
};

export function explainFailure(failure: ProbeFailure, where: FailureContext): string {
  const { code, phase } = failure;
  const target = `${where.address ?? where.host}:${where.port}`;
  const detail = `(${code ?? failure.message})`;
  if (failure.timedOut) return `no answer within the timeout during ${during[phase]}${timeoutHint(phase)}`;
  switch (code) {
    case 'ENOTFOUND':
      return `the name ${where.host} does not resolve ${detail}: check the host name`;
    case 'EAI_AGAIN':
      return `the DNS lookup of ${where.host} failed for now ${detail}: check the resolver, then try again`;
    case 'ECONNREFUSED':
      return `nothing is listening on ${target} ${detail}: is the server running, on this port?`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${target} ${detail}: the host or its network is down or unreachable from here`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the connection was reset during ${during[phase]} ${detail}: a proxy, a firewall or the server dropped it`;
    case 'CERT_HAS_EXPIRED':
      return `the server's certificate has expired ${detail}`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the server's certificate is not for ${where.host} ${detail}: connect by the name the certificate names`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `the server does not speak TLS on this port ${detail}: try ws:// instead of wss://`;
  }
  if (code !== undefined && untrusted.has(code)) {
    return `the server's certificate is not trusted ${detail}: use one from a trusted CA, or trust its CA with NODE_EXTRA_CA_CERTS`;
  }
  if (phase === 'tls') return `the TLS handshake failed: ${failure.message}`;
  if (phase === 'handshake') return `the opening handshake failed: ${failure.message}`;
  return `${during[phase]} failed: ${failure.message}`;
}

function timeoutHint(phase: ProbeFailure['phase']): string {
  switch (phase) {
    case 'dns':
      return ': the resolver is slow or unreachable';
    case 'tcp':
      return ': a firewall may be dropping packets, or the host is down';
    case 'tls':
    case 'handshake':
      return ': the port answers TCP but not as a WebSocket server (or a proxy is holding the request)';
    case 'ping':
      return ': the server does not answer pings, or the link is stalled';
    case 'close':
      return ': the server did not answer the close frame';
  }
}
