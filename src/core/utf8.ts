/**
 * Byte length of `text` encoded as UTF-8 (RFC 6455 limits close reasons in bytes, not chars).
 * A lone surrogate counts as U+FFFD (3 bytes), as every WebSocket encodes it.
 */
export function utf8ByteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8ByteLength(text) <= maxBytes) return text;
  const bytes = new TextEncoder().encode(text);
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so no code point is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
