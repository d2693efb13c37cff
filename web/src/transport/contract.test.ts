import { afterEach, describe, it } from 'vitest';
import { loadHasher } from '@shared/transport';
import { contractCases, type ChannelPair } from './contract';
import { FramedChannel } from './framed-channel';
import { MemoryLink } from './memory-channel';

/** The same cases run over a real RTCDataChannel in e2e/transport.spec.ts. */
describe('FramedChannel contract over the in-memory channel', () => {
  let link: MemoryLink | undefined;
  afterEach(() => link?.close());

  async function memoryPair(): Promise<ChannelPair> {
    const hasher = await loadHasher();
    // 256 KiB per tick per direction: slow enough that backpressure and interleaving really happen.
    link = new MemoryLink({ bytesPerTick: 256 * 1024 });
    return { a: new FramedChannel(link.a, hasher), b: new FramedChannel(link.b, hasher) };
  }

  for (const testCase of contractCases) {
    it(testCase.name, async () => {
      await testCase.run(await memoryPair());
    });
  }
});
