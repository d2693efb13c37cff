/**
 * Lets the page handle its events between steps of long work (inner training steps, rollouts). A message to itself, not setTimeout: timers in a
 * tab the user is not looking at are throttled to one a second or slower, which would stall a round.
 */
export function yieldToPage(): Promise<void> {
  return new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });
}
