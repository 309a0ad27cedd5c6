// `npm run test:busy`: the whole suite (`npm test`, args passed on) with two CPU-burning
// processes beside it, as on a shared 2-core machine. The burners are bounded (they end by
// themselves after LIFELINE_BUSY_MAX_MS, default 15 min) and killed on every path: when the suite
// ends, fails, or this script is interrupted.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const maxMs = Number(process.env.LIFELINE_BUSY_MAX_MS ?? 15 * 60_000);
const BURN = `const end = Date.now() + ${maxMs}; let x = 0; while (Date.now() < end) { for (let i = 0; i < 1e6; i++) x = (x * 31 + i) % 1000003; }`;

const burners = [0, 1].map(() => spawn(process.execPath, ['-e', BURN], { stdio: 'ignore' }));
const stopBurners = () => {
  for (const burner of burners) if (burner.exitCode === null && burner.signalCode === null) burner.kill('SIGKILL');
};
process.on('exit', stopBurners);

const started = Date.now();
const suite = spawn('npm', ['test', '--', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    suite.kill(signal);
    stopBurners();
  });
}
suite.once('close', (code, signal) => {
  stopBurners();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.error(`test:busy: the suite took ${seconds} s beside two CPU burners`);
  process.exit(code ?? (signal ? 1 : 0));
});
