// A node:test reporter (used by run-tests.mjs beside the usual one): writes one JSON object,
// each test file's wall time in ms, as the runner measured it (from its process start to its end).
// run-tests.mjs keeps them to start the slowest files first next time and prints the slowest.
export default async function* durations(source) {
  const files = {};
  for await (const event of source) {
    // The runner reports each file as a test named after the file's path.
    if (event.type === 'test:complete' && event.data.nesting === 0 && event.data.name === event.data.file) {
      files[event.data.file] = Math.round(event.data.details.duration_ms);
    }
  }
  yield `${JSON.stringify(files)}\n`;
}
