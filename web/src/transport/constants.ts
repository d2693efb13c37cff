/** Browser-side transport tunables (the framing's own live in shared/src/transport/constants.ts). */

/**
 * How long a peer connection may take to open. Host candidates on one LAN
 * connect in well under a second; a slow TURN relay in a few seconds. Past
 * 30 s the other side is gone or unreachable and the job should pick another.
 */
export const CONNECT_TIMEOUT_MS = 30_000;
