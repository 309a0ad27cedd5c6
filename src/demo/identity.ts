/**
 * The name this tab chats under: chosen in the page, remembered in sessionStorage, so a reload
 * keeps it and every tab (or window) is a guest of its own.
 */

const NAME_KEY = 'lifeline-demo-name';
const VISITOR_KEY = 'lifeline-demo-visitor';

/** What the page accepts as a name: what the demo token endpoint accepts (the input's `pattern` says the same). */
export const NAME_PATTERN = /^[A-Za-z0-9 _-]{1,32}$/;

/** `guest-4821`; from crypto, since the page has no other randomness to lean on. */
function guestName(): string {
  const [value = 0] = crypto.getRandomValues(new Uint16Array(1));
  return `guest-${String(value % 10_000).padStart(4, '0')}`;
}

/** The remembered name, or a fresh guest name (remembered from now on). */
export function storedName(): string {
  try {
    const stored = sessionStorage.getItem(NAME_KEY);
    if (stored !== null && NAME_PATTERN.test(stored)) return stored;
    const name = guestName();
    sessionStorage.setItem(NAME_KEY, name);
    return name;
  } catch {
    return guestName(); // storage blocked (private mode, sandboxed frame): a name for this visit
  }
}

export function rememberName(name: string): void {
  try {
    sessionStorage.setItem(NAME_KEY, name);
  } catch {
    // not remembered; harmless
  }
}

/**
 * This tab's visitor key: a random secret sent with every token request, so every token of this
 * tab names the same user (the server derives the subject from it) and nobody else can get a
 * token for that user. Remembered like the name; a fresh one when storage is blocked.
 */
export function visitorKey(): string {
  const fresh = (): string => Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
  try {
    const stored = sessionStorage.getItem(VISITOR_KEY);
    if (stored !== null && /^[0-9a-f]{32}$/.test(stored)) return stored;
    const key = fresh();
    sessionStorage.setItem(VISITOR_KEY, key);
    return key;
  } catch {
    return fresh();
  }
}
