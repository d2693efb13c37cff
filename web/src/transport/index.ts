/** The browser transport: a typed, framed, backpressured channel over a simple-peer connection. */
export {
  FramedChannel,
  type FramedChannelOptions,
  type FramedChannelStats,
  type FramedMessage,
} from './framed-channel';
export { createPeer, connectDataChannel, type PeerLink, type PeerOptions, type RawPeerLink } from './peer';
export type { DataChannelLike } from './data-channel';
export {
  CONTROL_STREAM,
  TransportError,
  IntegrityError,
  LimitError,
  FrameError,
  ChannelClosedError,
  ChannelFailedError,
} from '@shared/transport';
