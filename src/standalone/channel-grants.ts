/**
 * Channel patterns a token may carry in its `channels` claim: a name, or a name with `*`
 * wildcards, each matching any run of characters (`:` included). `chat:*` grants `chat:lobby`
 * and `chat:team:ops`, but not `chat` itself; `*` grants every channel.
 */
export type ChannelPattern = string;

/** The most patterns one token may carry, and the longest pattern: a claim is input from a signer, but it is still bounded. */
export const MAX_PATTERNS = 100;
export const MAX_PATTERN_LENGTH = 200;

const PATTERN = /^[A-Za-z0-9:_\-.@/=*]+$/;

/** Why a `channels` claim is unusable, or undefined when it is a list of valid patterns. */
export function invalidPatterns(claim: unknown): string | undefined {
  if (!Array.isArray(claim)) return 'the channels claim must be a list of channel patterns';
  if (claim.length > MAX_PATTERNS) return `the channels claim may list at most ${MAX_PATTERNS} patterns`;
  for (const pattern of claim) {
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH || !PATTERN.test(pattern)) {
      return `the channels claim has an invalid pattern ${JSON.stringify(pattern)}`;
    }
  }
  return undefined;
}

/** Does `pattern` match the whole of `channel`? Linear in their lengths for one `*`, at worst their product. */
export function matchesPattern(pattern: ChannelPattern, channel: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === channel;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (channel.length < first.length + last.length || !channel.startsWith(first) || !channel.endsWith(last)) return false;
  // The middle parts, in order and without overlapping, within what the ends leave; taking the
  // leftmost occurrence of each is always safe because `*` can absorb anything in between.
  let at = first.length;
  const end = channel.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = channel.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** Does any of `patterns` grant `channel`? No list at all grants every channel. */
export function granted(patterns: readonly ChannelPattern[] | undefined, channel: string): boolean {
  return patterns === undefined || patterns.some((pattern) => matchesPattern(pattern, channel));
}
