// Makes a fresh machine ready for `npm test`: the browser tests need Debian's Chromium (never
// a downloaded browser), and later suites need a Redis server on 127.0.0.1:6379. Installs or
// starts them when it can (root with apt-get / redis-server present); otherwise says what is
// missing. The tests themselves skip with the reason, or fail when CI=true.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (!existsSync(CHROMIUM)) {
  if (isRoot && has('apt-get')) {
    console.log('test-env: installing Debian chromium for the browser tests (apt-get)...');
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'], { stdio: 'inherit' });
  } else {
    console.log(`test-env: ${CHROMIUM} missing; browser tests will skip (install: apt-get install -y chromium)`);
  }
}

function redisAnswers() {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: 6379 });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(String(data).startsWith('+PONG')));
  });
}

// The Redis tests also start private redis-server processes (to kill and restart them).
if (!has('redis-server') && isRoot && has('apt-get')) {
  console.log('test-env: installing redis-server for the Redis tests (apt-get)...');
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null'], { stdio: 'inherit' });
}

// The load-balancer test runs a real HAProxy (Debian's package).
// Debian installs it in /usr/sbin, which a non-root PATH often lacks.
if (!has('haproxy') && !existsSync('/usr/sbin/haproxy')) {
  if (isRoot && has('apt-get')) {
    console.log('test-env: installing haproxy for the load-balancer test (apt-get)...');
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null'], { stdio: 'inherit' });
  } else {
    console.log('test-env: haproxy missing; the load-balancer test will skip (install: apt-get install -y haproxy)');
  }
}

if (!(await redisAnswers())) {
  if (has('redis-server')) {
    console.log('test-env: starting redis-server on 127.0.0.1:6379 (no persistence)');
    spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  } else {
    console.log('test-env: no Redis on 127.0.0.1:6379 and no redis-server to start; Redis tests will skip');
  }
}
