/**
 * The Redis broker against a real Redis server: the shared Broker contract, unchanged, and what
 * only a networked broker has to promise (several brokers as several nodes, history surviving a
 * node, connection loss).
 */
import { describe } from 'node:test';
import { RedisBroker } from '../../src/redis/index.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { brokerContract } from './contract.js';

describe('RedisBroker', { skip: redisSkip }, () => {
  brokerContract('RedisBroker', (clock, limits) => RedisBroker.connect({ url: redisUrl, prefix: testPrefix(), clock, ...limits }));
});
