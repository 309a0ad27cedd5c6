/**
 * `lifeline/testing`: what Lifeline's own tests use, for yours.
 * @packageDocumentation
 */
export { FakeClock } from './fake-clock.js';
export { startServer, type ServerFixture } from './server-fixture.js';
export { seededRng, type Clock, type Rng } from '../core/clock.js';
