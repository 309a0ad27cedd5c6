import { h } from '../dom.js';
import type { AdminChannelRow, AdminConnectionRow } from './snapshot.js';

/** `42 s`, `3 min 05 s`, `2 h 14 min`, `3 d 4 h`. */
export function age(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `1.2 MB`, `830 B`. */
export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

function empty(columns: number, text: string): HTMLTableRowElement {
  return h('tr', { class: 'empty' }, h('td', { colspan: String(columns) }, text));
}

export function renderChannels(body: HTMLTableSectionElement, channels: readonly AdminChannelRow[]): void {
  const rows = [...channels].sort((a, b) => b.subscribers - a.subscribers || a.channel.localeCompare(b.channel));
  body.replaceChildren(
    ...(rows.length === 0
      ? [empty(2, 'No channel has subscribers.')]
      : rows.map((row) => h('tr', { 'data-channel': row.channel }, h('td', { class: 'mono' }, row.channel), h('td', { class: 'num' }, String(row.subscribers))))),
  );
}

const stateTones: Readonly<Record<string, string>> = { open: 'ready', authenticating: 'connecting', closing: 'closing', closed: 'closed' };

export function renderConnections(body: HTMLTableSectionElement, connections: readonly AdminConnectionRow[]): void {
  const rows = [...connections].sort((a, b) => a.ageMs - b.ageMs);
  body.replaceChildren(
    ...(rows.length === 0
      ? [empty(7, 'No open connection.')]
      : rows.map((row) =>
          h(
            'tr',
            { 'data-id': row.id },
            h('td', { class: 'mono', title: row.id }, row.id.length > 14 ? `${row.id.slice(0, 12)}…` : row.id),
            h('td', {}, row.user === null ? h('span', { class: 'muted' }, 'anonymous') : row.user),
            h('td', {}, h('span', { class: 'state-tag', 'data-state': stateTones[row.state] ?? 'paused' }, row.state || '?')),
            h('td', { class: 'num' }, age(row.ageMs)),
            h('td', { class: 'num' }, row.rttMs === null ? '–' : `${row.rttMs < 10 ? row.rttMs.toFixed(1) : Math.round(row.rttMs)} ms`),
            h('td', { class: 'mono' }, row.protocol || '–'),
            h('td', { class: 'num' }, String(row.subscriptions)),
          ),
        )),
  );
}

/** `3 refused: 401 ×2 · 503 ×1`: refused handshakes, how many and with which status. */
export function refusals(handshakes: ReadonlyMap<number, number>): string {
  const refused = [...handshakes.entries()].filter(([status]) => status !== 101).sort((a, b) => a[0] - b[0]);
  const total = refused.reduce((sum, [, n]) => sum + n, 0);
  return total === 0 ? '0 refused' : `${total} refused: ${refused.map(([status, n]) => `${status} ×${n}`).join(' · ')}`;
}
