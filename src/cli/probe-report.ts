import { describeCloseCode } from '../core/close-codes.js';
import { formatMs, formatSeconds } from './connect-printer.js';
import type { ProbeObservation } from './probe-timing.js';
import type { ProbeVerdict } from './probe-verdict.js';

/**
 * A probe's result in words (a labelled line per step, the verdict last) or as one JSON
 * document. Pure: both read the observation and the verdict, nothing else.
 */

const WIDTH = 13;
const INDENT = ' '.repeat(WIDTH);

function row(label: string, text: string): string {
  return `${label.padEnd(WIDTH)}${text}`;
}

function quoted(text: string): string {
  return JSON.stringify(text);
}

export function renderText(o: ProbeObservation, v: ProbeVerdict): string {
  const lines = [`probe ${o.url}`];
  if (o.dns) {
    const [first] = o.dns.addresses;
    const more = o.dns.addresses.length > 1 ? ` (+${o.dns.addresses.length - 1} more: ${o.dns.addresses.slice(1).map((a) => a.address).join(', ')})` : '';
    lines.push(row('dns', first && first.address === o.host ? `${o.host} is an IP address: no lookup` : `${o.host} -> ${first?.address ?? '?'}${more} in ${formatMs(o.dns.ms)}`));
  }
  if (o.tcp) {
    lines.push(row('tcp', `connected to ${o.tcp.address}:${o.port} in ${formatMs(o.tcp.ms)}`));
    for (const failed of o.tcp.failed) lines.push(`${INDENT}(tried ${failed.address} first: ${failed.code ?? failed.message})`);
  }
  if (o.tcp || o.failure?.phase === 'tls') {
    if (!o.secure) lines.push(row('tls', 'none (ws://)'));
    else if (o.tls) {
      const suite = [o.tls.protocol ?? 'TLS', o.tls.cipher].filter((part) => part !== undefined).join(' ');
      lines.push(row('tls', `${suite} in ${formatMs(o.tls.ms)}`));
      lines.push(`${INDENT}certificate for ${o.tls.subject ?? '?'}, issued by ${o.tls.issuer ?? '?'}, valid to ${o.tls.validTo ?? '?'}`);
    }
  }
  if (o.handshake) {
    const h = o.handshake;
    lines.push(row('handshake', `HTTP ${h.status} ${h.statusText} in ${formatMs(h.ms)}`));
    for (const [name, value] of h.headers) lines.push(`${INDENT}${name}: ${value}`);
    if (h.body !== undefined) lines.push(`${INDENT}body: ${quoted(h.body)}`);
  }
  if (o.open) {
    lines.push(row('subprotocol', o.open.protocol || (o.protocols.length > 0 ? `none (offered: ${o.protocols.join(', ')})` : 'none')));
    lines.push(row('extensions', o.open.extensions || 'none'));
  }
  if (o.ping) lines.push(row('ping', `round trip ${formatMs(o.ping.ms)}`));
  if (o.close) {
    const c = o.close;
    const who = c.by === 'server' ? 'sent by the server' : c.ms === undefined ? 'answered' : `answered in ${formatMs(c.ms)}`;
    lines.push(row('close', `${c.code} ${describeCloseCode(c.code).name}${c.reason === '' ? '' : `, reason ${quoted(c.reason)}`}, ${who}${c.wasClean ? '' : ' (not clean)'}`));
  }
  lines.push(row(v.verdict, `${v.summary} (${formatMs(o.totalMs)} in all)`));
  if (v.refusal?.retryAfterMs !== undefined) lines.push(`${INDENT}Retry-After: ${formatSeconds(v.refusal.retryAfterMs)}`);
  if (v.serverClose?.reason) lines.push(`${INDENT}the server said: ${quoted(v.serverClose.reason)}`);
  if (v.advice !== undefined) lines.push(`${INDENT}what to do: ${v.advice}`);
  return `${lines.join('\n')}\n`;
}

const round = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round(ms * 100) / 100);

export function renderJson(o: ProbeObservation, v: ProbeVerdict): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of o.handshake?.headers ?? []) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const doc = {
    url: o.url,
    verdict: v.verdict,
    healthy: v.verdict === 'healthy',
    summary: v.summary,
    advice: v.advice ?? null,
    timings: {
      dnsMs: round(o.dns?.ms),
      tcpMs: round(o.tcp?.ms),
      tlsMs: round(o.tls?.ms),
      handshakeMs: round(o.handshake?.ms),
      pingMs: round(o.ping?.ms),
      closeMs: round(o.close?.ms),
      totalMs: round(o.totalMs),
    },
    dns: o.dns ? { addresses: o.dns.addresses } : null,
    tcp: o.tcp ? { address: o.tcp.address, port: o.port, failed: o.tcp.failed } : null,
    tls: o.tls ? { protocol: o.tls.protocol, cipher: o.tls.cipher ?? null, alpn: o.tls.alpn || null, subject: o.tls.subject ?? null, issuer: o.tls.issuer ?? null, validTo: o.tls.validTo ?? null } : null,
    handshake: o.handshake ? { status: o.handshake.status, statusText: o.handshake.statusText, headers, body: o.handshake.body ?? null } : null,
    refusal: v.refusal
      ? { status: v.refusal.status, meaning: v.refusal.meaning, action: v.refusal.action, advice: v.refusal.advice, retryAfterMs: v.refusal.retryAfterMs ?? null }
      : null,
    subprotocol: o.open ? o.open.protocol || null : null,
    extensions: o.open ? o.open.extensions || null : null,
    ping: o.ping ? { rttMs: round(o.ping.ms) } : null,
    close: o.close ? { code: o.close.code, name: describeCloseCode(o.close.code).name, reason: o.close.reason, wasClean: o.close.wasClean, by: o.close.by } : null,
    serverClose: v.serverClose ?? null,
    failure: o.failure ?? null,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
