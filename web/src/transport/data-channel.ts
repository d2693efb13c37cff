/**
 * The part of RTCDataChannel the framed channel uses. A real RTCDataChannel
 * satisfies it, and so does the in-memory double the tests use.
 */
export interface DataChannelLike {
  readonly readyState: RTCDataChannelState;
  binaryType: BinaryType;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  onbufferedamountlow: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: Event) => void) | null;
  onerror: ((event: RTCErrorEvent) => void) | null;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(): void;
}
