/**
 * The JSON text a broker stores and sends for a publish's data (`undefined` as `null`). Throws a
 * TypeError for data JSON cannot carry (a BigInt, a cycle, a function or symbol at the top),
 * before the publish takes an offset or touches any state: the channel's offsets stay without a
 * hole, on every broker alike.
 */
export function encodeData(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data ?? null);
  } catch (error) {
    throw new TypeError(`publish refused: JSON cannot carry this data (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (json === undefined) throw new TypeError(`publish refused: JSON cannot carry this data (a ${typeof data})`);
  return json;
}
