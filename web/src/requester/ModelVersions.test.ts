import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { emptyJobView } from './job-view';
import { ModelVersions } from './ModelVersions';
import type { Templar } from './templar';

describe('ModelVersions', () => {
  it('WEIGHTS8: shows each version with what it cost to send and who runs it; a running job offers to publish the next', () => {
    const view = {
      ...emptyJobView('job-1', 10, 'running'),
      versions: [
        { number: 1, hash: 'a'.repeat(32), bytesSent: 2_400_000, providers: 0, reached: 2, units: 30 },
        { number: 2, hash: 'b'.repeat(32), bytesSent: 24_000, providers: 2, reached: 2, units: 12 },
      ],
    };
    const render = (status: 'running' | 'done') =>
      renderToStaticMarkup(
        createElement(ModelVersions, { jobId: 'job-1', view: { ...view, status }, templar: {} as Templar }),
      );
    const html = render('running');
    expect(html).toMatch(/<td>v1<\/td>.*<td>2\.3 MiB<\/td>/);
    expect(html).toMatch(/<td>v2<\/td>.*<td>23\.4 KiB<\/td><td>2 now, 2 in all<\/td>/);
    expect(html).toContain('data-testid="publish-version"');
    expect(render('done')).not.toContain('data-testid="publish-version"');
  });
});
