/**
 * `lifeline/testing`: what Lifeline's own tests use, for yours.
 * @packageDocumentation
 */
export { FakeClock } from './fake-clock.js';
export { startServer, type ServerFixture } from './server-fixture.js';
export { seededRng, type Clock, type Rng } from '../core/clock.js';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultProxyStats, type FaultProxyState, type FaultLink, type FaultMode, type Shaping } from './fault-proxy.js';
export { MemoryOutboxStore } from '../client/outbox-store.js';
