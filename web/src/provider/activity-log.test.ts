import { describe, expect, it } from 'vitest';
import { sessionEnded } from './activity-log';

describe('provider activity log', () => {
  it('LOG1: normal endings do not read like errors (issue 21 #5)', () => {
    for (const reason of ['channel closed: closed', 'channel closed: data channel error: ', 'channel closed: error']) {
      const line = sessionEnded('j1', reason);
      expect(line).toBe('job j1: the requester disconnected (job done or tab closed)');
      expect(line).not.toMatch(/error|closed:/);
    }
    expect(sessionEnded('j1', 'requester said: job complete')).toBe(
      'job j1: the requester ended the session (job complete)',
    );
  });

  it('LOG2: a real fault keeps its detail', () => {
    expect(sessionEnded('j1', 'channel closed: data channel error: SCTP failure')).toMatch(
      /connection to the requester was lost \(SCTP failure\)/,
    );
    expect(sessionEnded('j1', 'unmatched: reported')).toMatch(/server ended this pairing \(reported\)/);
  });
});
