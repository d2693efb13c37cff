import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { demoModel } from './demo';
import { WeightsPublisher } from './publisher';
import { WeightsPanel } from './WeightsPanel';

describe('WeightsPanel', () => {
  it('WEIGHTS8: shows each published version with its bytes, and a prompt before any', async () => {
    const publisher = new WeightsPublisher();
    const render = () => renderToStaticMarkup(createElement(WeightsPanel, { publisher, jobId: 'job-1' }));
    expect(render()).toContain('No weights published yet');
    await publisher.publish('demo', demoModel(1, 1, 16));
    expect(render()).toContain('demo</strong> v0');
    expect(render()).toMatch(/<td>v0<\/td><td>\d+(\.\d)? (B|KiB)<\/td>/);
  });
});
