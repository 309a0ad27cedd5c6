/**
 * Gives every promise that `target`'s methods `names` return a rejection handler, and returns
 * that same promise to the caller, who still sees (and must handle) its rejection.
 *
 * Why: the Redis Cluster client resubscribes a failed-over shard's listeners by calling its own
 * `subscribe`/`sSubscribe` methods and dropping the promises; while its slot map is being
 * rebuilt those reject (a `TypeError` inside the client), and an unhandled rejection ends a Node
 * process. The broker resubscribes every channel itself when a node connection is new, so the
 * dropped calls carry nothing it needs; they must only not end the process.
 */
export function handleDroppedRejections(target: object, names: readonly string[]): void {
  const methods = target as Record<string, unknown>;
  for (const name of names) {
    const method = methods[name];
    if (typeof method !== 'function') continue;
    methods[name] = function (this: unknown, ...args: unknown[]): unknown {
      const result: unknown = (method as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) result.catch(() => undefined);
      return result;
    };
  }
}

/**
 * {@link handleDroppedRejections} for a Redis Cluster client's own resubscription calls. The
 * object `createCluster` returns is a thin view over the client's instance (`_self`, whose own
 * `subscribe`/`pSubscribe`/`sSubscribe` the view inherits), and the client's failover handler is
 * bound to that instance: a handler put on the view is never on the path it calls.
 */
export function handleClusterResubscribeRejections(cluster: object): void {
  const instance = (cluster as { readonly _self?: unknown })._self;
  handleDroppedRejections(typeof instance === 'object' && instance !== null ? instance : cluster, ['subscribe', 'pSubscribe', 'sSubscribe']);
}
