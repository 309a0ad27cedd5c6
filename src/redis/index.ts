export { RedisBroker, type RedisBrokerOptions } from './redis-broker.js';
export { BrokerUnavailableError } from '../core/errors.js';
