/**
 * Drives weight distribution in the real app through `window.basilicaWeights`
 * (web/src/weights/hook.ts), the documented handle until the dashboard mounts
 * WeightsPanel: publish seeded demo versions from the requester tab, read what
 * each provider tab rebuilt.
 */
import { expect, type Page } from '@playwright/test';
import type { PublishedModelView } from '../../web/src/weights/publisher';
import '../../web/src/weights/hook';

export const DEMO_MODEL = 'demo';

/** Publishes the next demo version (the first is a fresh seeded model, later ones nudge `fraction` of its values). */
export async function publishDemo(page: Page, fraction = 0.01): Promise<{ version: number; hash: string }> {
  return page.evaluate((f) => window.basilicaWeights!.publishDemo!(f), fraction);
}

export async function publishedView(page: Page): Promise<PublishedModelView | undefined> {
  return page.evaluate(
    (id) => window.basilicaWeights?.publisher?.view.get().models.find((m) => m.modelId === id),
    DEMO_MODEL,
  );
}

/** Waits until `count` providers acknowledged `hash` (each proves it by hash before it acks). */
export async function waitAllCurrent(
  page: Page,
  hash: string,
  count: number,
  timeout = 120_000,
): Promise<PublishedModelView> {
  await expect
    .poll(
      async () => {
        const view = await publishedView(page);
        return view?.hash === hash ? view.providers.filter((p) => p.state === 'current' && p.held === hash).length : -1;
      },
      { timeout },
    )
    .toBe(count);
  return (await publishedView(page))!;
}

/** The provider tab's held version of the demo model, hashed again from its weights. */
export async function rehash(page: Page): Promise<string | null> {
  return page.evaluate((id) => window.basilicaWeights!.rehash!(id), DEMO_MODEL);
}
