/**
 * Connects two pages that load web/harness/transport.html: each page's
 * handshake blobs are relayed to the other by this process (no signaling
 * server). Used by e2e/transport.spec.ts and bench/transport.ts.
 */
import type { Page } from 'playwright-core';
import type { SignalPayload } from '@shared/protocol';

export const TRANSPORT_HARNESS_PATH = '/harness/transport.html';

/** Opens the harness in both pages and wires their signal relays to each other. */
export async function openHarnessPair(a: Page, b: Page, baseUrl: string): Promise<void> {
  for (const [page, other] of [
    [a, b],
    [b, a],
  ] as const) {
    await page.exposeFunction('relaySignal', async (link: string, payload: SignalPayload) => {
      await other.evaluate(([l, p]) => window.transportHarness.signal(l, p), [link, payload] as const);
    });
    await page.goto(baseUrl + TRANSPORT_HARNESS_PATH);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
  }
}

/** Connects link `name` between the pages: `a` initiates. */
export async function connectLink(a: Page, b: Page, name: string, kind: 'framed' | 'raw'): Promise<void> {
  await Promise.all([
    b.evaluate(
      ([n, k]) =>
        k === 'framed' ? window.transportHarness.connectFramed(n, false) : window.transportHarness.connectRaw(n, false),
      [name, kind] as const,
    ),
    a.evaluate(
      ([n, k]) =>
        k === 'framed' ? window.transportHarness.connectFramed(n, true) : window.transportHarness.connectRaw(n, true),
      [name, kind] as const,
    ),
  ]);
}
