/**
 * Every tunable of the framed transport, with why it has this value.
 * Throughput figures are from two headless Chromium pages on one machine
 * (see ../../../bench/transport.ts); browser limits are Chromium's.
 */

/** Version byte of every frame; a peer speaking another framing is refused, not misparsed. */
export const FRAME_VERSION = 1;

/**
 * Largest frame (header + payload) put on the data channel. 64 KiB is the
 * message size the raw-channel figures were measured with (~20–33 MB/s) and
 * well under Chromium's `sctp.maxMessageSize` (262144); it is also the
 * scheduling grain: a control message waits behind at most one frame per
 * busy stream in the scheduler, plus what is already buffered in the channel.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Fixed header: version u8, flags u8, stream u16, message id u32, chunk index u32, total length u32. */
export const HEADER_BYTES = 16;

/** The first frame of a message also carries its xxh3-64 hash, so the receiver knows what to expect. */
export const HASH_BYTES = 8;

/** Payload bytes that fit in a first frame and in any later frame. */
export const FIRST_PAYLOAD_BYTES = MAX_FRAME_BYTES - HEADER_BYTES - HASH_BYTES;
export const NEXT_PAYLOAD_BYTES = MAX_FRAME_BYTES - HEADER_BYTES;

/** Stream ids are u16 on the wire. */
export const MAX_STREAM_ID = 0xffff;

/**
 * Stream 0 is sent ahead of every other stream (strict priority), so a
 * heartbeat or "cancel" never waits behind a model upload. Keep it for small
 * messages: a large message on it delays every other stream.
 */
export const CONTROL_STREAM = 0;

/**
 * Stop handing frames to the data channel once this much is buffered in it.
 * Chromium closes the channel when its send queue passes 16 MiB, so we stay
 * far below; 1 MiB is ~30–50 ms of data at the measured rate: enough to keep
 * SCTP busy between `bufferedamountlow` events, short enough that a control
 * message queued now leaves within a few tens of milliseconds.
 */
export const HIGH_WATER_MARK_BYTES = 1024 * 1024;

/**
 * `bufferedAmountLowThreshold`: resume sending when the buffer drains to this.
 * A quarter of the high-water mark leaves ~10 ms of data queued while the
 * event reaches the page and the scheduler refills, so the link never idles.
 */
export const BUFFERED_AMOUNT_LOW_THRESHOLD = 256 * 1024;

/**
 * Largest message a receiver accepts by default. A model upload is the
 * biggest thing we move; 256 MiB covers the built-in and typical ONNX models
 * while bounding what one untrusted peer can make us allocate. Raise it per
 * channel when a job needs more.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * Partial (incomplete) messages held at once. The sender finishes one message
 * per stream before starting the next, so this is "streams busy at once";
 * a peer opening thousands of streams is refused instead of reserving memory.
 */
export const DEFAULT_MAX_PARTIAL_MESSAGES = 16;

/**
 * Bytes reserved by partial messages together (each reserves its declared
 * length on its first frame, before any allocation). Twice the largest
 * message lets a model upload and a large result overlap.
 */
export const DEFAULT_MAX_PARTIAL_BYTES = 2 * DEFAULT_MAX_MESSAGE_BYTES;
