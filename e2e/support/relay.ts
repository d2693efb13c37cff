/**
 * What the RL and together e2e tests check of relayed versions (shared/src/protocol/relay.ts): the
 * requester's card counts uploads, relays and fallbacks, and the volunteers' pages count versions received
 * from other volunteers.
 */
import { expect, type Locator, type Page } from '@playwright/test';

/**
 * `versions` new versions were published: the requester uploaded each once (plus one per fallback), at least
 * half reached a volunteer relayed by another, and the volunteers' `activity` panels count some received.
 */
export async function expectRelayed(card: Locator, versions: number, volunteers: readonly Page[], activity: string) {
  const [uploads = 0, relayed = 0, fallbacks = 0] = await Promise.all(
    ['data-uploads', 'data-relayed', 'data-fallbacks'].map(async (a) => Number(await card.getAttribute(a))),
  );
  console.log(
    `versions: ${uploads} uploads by the requester, ${relayed} relayed by volunteers, ${fallbacks} fallbacks`,
  );
  expect(relayed).toBeGreaterThanOrEqual(versions / 2);
  expect(uploads).toBe(versions + fallbacks);
  const relayedIn = await Promise.all(
    volunteers.map(async (page) => Number(await page.getByTestId(activity).getAttribute('data-relayed-in'))),
  );
  expect(relayedIn.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
}
