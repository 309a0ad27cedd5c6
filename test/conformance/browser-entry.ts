/** Page entry: exposes the conformance runner as `window.runConformance`. */
import { runCases } from './run-cases.js';

(globalThis as { runConformance?: typeof runCases }).runConformance = runCases;
