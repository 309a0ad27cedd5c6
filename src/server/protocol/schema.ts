/** The server's entry to the lifeline.v1 message definitions, which live in src/protocol. */
export { PROTOCOL } from '../../protocol/protocol-name.js';
export { channelName, parseClientMessage, type ClientMessage, type ClientMessageOf } from '../../protocol/client-messages.js';
