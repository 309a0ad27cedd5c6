/**
 * The admin key: taken once from the address (`/admin#key=...`, best, since a fragment never
 * reaches the server or its logs; `/admin?key=...` works too) and then kept in sessionStorage, so
 * it lives as long as the tab and no longer.
 */
const KEY = 'lifeline-admin-key';

function fromAddress(): string | undefined {
  const search = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get('key') ?? search.get('key');
  if (key === null || key === '') return undefined;
  // Out of the address bar (and so out of history, bookmarks and screenshots) at once.
  search.delete('key');
  fragment.delete('key');
  const query = search.toString();
  const hash = fragment.toString();
  history.replaceState(null, '', `${location.pathname}${query === '' ? '' : `?${query}`}${hash === '' ? '' : `#${hash}`}`);
  return key;
}

export function initialKey(): string | undefined {
  const key = fromAddress();
  if (key !== undefined) {
    saveKey(key);
    return key;
  }
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveKey(key: string): void {
  try {
    sessionStorage.setItem(KEY, key);
  } catch {
    // storage blocked: the key lives in memory for this page only
  }
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
