/**
 * The wire format of one frame (all integers big-endian):
 *
 *   0  u8   version (FRAME_VERSION)
 *   1  u8   flags: FIRST = 1, LAST = 2 (a one-frame message has both)
 *   2  u16  stream id
 *   4  u32  message id (per sending channel, wraps)
 *   8  u32  chunk index (0 on the FIRST frame, +1 per frame)
 *   12 u32  total length of the message in bytes
 *   16 8 B  xxh3-64 of the whole message — FIRST frame only
 *   …       payload
 *
 * Every frame repeats the total length so a receiver can check each chunk
 * against it without trusting earlier state; 4 bytes per 64 KiB is noise.
 */
import {
  FIRST_PAYLOAD_BYTES,
  FRAME_VERSION,
  HASH_BYTES,
  HEADER_BYTES,
  MAX_FRAME_BYTES,
  MAX_STREAM_ID,
  NEXT_PAYLOAD_BYTES,
} from './constants';
import { FrameError } from './errors';

export const FrameFlag = { first: 1, last: 2 } as const;
const KNOWN_FLAGS = FrameFlag.first | FrameFlag.last;

/** Largest message the u32 length field can describe. */
export const MAX_WIRE_MESSAGE_BYTES = 0xffff_ffff;

export interface FrameHeader {
  flags: number;
  stream: number;
  messageId: number;
  chunkIndex: number;
  totalLength: number;
}

export interface DecodedFrame extends FrameHeader {
  /** Present on FIRST frames only. */
  hash: Uint8Array | undefined;
  payload: Uint8Array;
}

/** How many frames a message of this length takes (a 0-byte message still takes one). */
export function frameCount(totalLength: number): number {
  if (totalLength <= FIRST_PAYLOAD_BYTES) return 1;
  return 1 + Math.ceil((totalLength - FIRST_PAYLOAD_BYTES) / NEXT_PAYLOAD_BYTES);
}

/** Byte offset in the message where chunk `index` starts. */
export function chunkOffset(index: number): number {
  return index === 0 ? 0 : FIRST_PAYLOAD_BYTES + (index - 1) * NEXT_PAYLOAD_BYTES;
}

/**
 * Builds frame `chunkIndex` of a message. One copy of the payload into a fresh
 * buffer: the data channel needs header and payload in one message, and a
 * fresh ArrayBuffer per frame lets the channel keep it without aliasing.
 */
export function encodeFrame(
  stream: number,
  messageId: number,
  chunkIndex: number,
  message: Uint8Array,
  hash: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const total = message.length;
  const last = frameCount(total) - 1;
  const start = chunkOffset(chunkIndex);
  const end = Math.min(total, chunkIndex === 0 ? FIRST_PAYLOAD_BYTES : start + NEXT_PAYLOAD_BYTES);
  const first = chunkIndex === 0;
  const headerBytes = HEADER_BYTES + (first ? HASH_BYTES : 0);
  const frame = new Uint8Array(headerBytes + (end - start));
  const view = new DataView(frame.buffer);
  view.setUint8(0, FRAME_VERSION);
  view.setUint8(1, (first ? FrameFlag.first : 0) | (chunkIndex === last ? FrameFlag.last : 0));
  view.setUint16(2, stream);
  view.setUint32(4, messageId >>> 0);
  view.setUint32(8, chunkIndex);
  view.setUint32(12, total);
  if (first) frame.set(hash.subarray(0, HASH_BYTES), HEADER_BYTES);
  frame.set(message.subarray(start, end), headerBytes);
  return frame;
}

/** Checks one frame's own shape (not its place in a message). Throws FrameError. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  if (frame.length < HEADER_BYTES)
    throw new FrameError(`frame of ${frame.length} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  if (frame.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${frame.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const version = view.getUint8(0);
  if (version !== FRAME_VERSION) throw new FrameError(`frame version ${version}, expected ${FRAME_VERSION}`);
  const flags = view.getUint8(1);
  const stream = view.getUint16(2);
  const messageId = view.getUint32(4);
  const where = { stream, messageId };
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameError(`unknown frame flags 0x${flags.toString(16)}`, where);
  const chunkIndex = view.getUint32(8);
  const totalLength = view.getUint32(12);
  const first = (flags & FrameFlag.first) !== 0;
  if (first !== (chunkIndex === 0)) throw new FrameError(`FIRST flag and chunk index ${chunkIndex} disagree`, where);
  const headerBytes = HEADER_BYTES + (first ? HASH_BYTES : 0);
  if (frame.length < headerBytes) throw new FrameError('first frame is too short to hold its hash', where);
  return {
    flags,
    stream,
    messageId,
    chunkIndex,
    totalLength,
    hash: first ? frame.subarray(HEADER_BYTES, headerBytes) : undefined,
    payload: frame.subarray(headerBytes),
  };
}

export function assertStreamId(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream > MAX_STREAM_ID)
    throw new RangeError(`stream id ${stream} is not an integer in 0..${MAX_STREAM_ID}`);
}
