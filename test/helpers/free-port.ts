// Loopback ports nothing listens on, for processes a test starts (redis-server, HAProxy, Chromium).
import { createServer, type Server } from 'node:net';

/** `count` distinct free ports on 127.0.0.1: all are held at once while they are picked, so none repeats. */
export async function freePorts(count: number): Promise<number[]> {
  const listeners = await Promise.all(
    Array.from({ length: count }, async () => {
      const listener = createServer();
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, '127.0.0.1', resolve);
      });
      return listener;
    }),
  );
  const ports = listeners.map((listener) => {
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(listeners.map((listener: Server) => new Promise<void>((resolve) => listener.close(() => resolve()))));
  return ports;
}

/** One free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port');
  return port;
}
