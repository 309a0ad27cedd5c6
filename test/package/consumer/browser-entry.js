// What a web app would import; bundled for the browser by test/package/tarball.test.ts.
import { LifelineClient, ReconnectingWebSocket } from 'lifeline/client';
export { LifelineClient, ReconnectingWebSocket };
