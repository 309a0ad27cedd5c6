/** The subprotocol a client offers to speak the channel protocol (docs/protocol.md); declared here only. */
export const PROTOCOL = 'lifeline.v1';
