/**
 * Words for the provider's activity log. A session ends for ordinary reasons
 * (the job finished, the requester closed its tab) far more often than for a
 * fault; the log says which, so a volunteer does not read normal endings as
 * errors. Transport wording ("channel closed: closed") stays in the details.
 */

/** One log line for a session that ended with `reason` (as PeerSessions and the server word it). */
export function sessionEnded(jobId: string, reason: string): string {
  const said = /^requester said: (.*)$/.exec(reason);
  if (said) return `job ${jobId}: the requester ended the session (${said[1]})`;
  const unmatched = /^unmatched: (.*)$/.exec(reason);
  if (unmatched) return `job ${jobId}: the server ended this pairing (${unmatched[1]}); waiting for other work`;
  const channel = /^channel closed: (.*)$/.exec(reason);
  if (channel) {
    const detail = channel[1]!.replace(/^data channel error:\s*/, '').trim();
    // An empty error or a plain close is the other tab going away: normal when a job ends or its tab closes.
    if (detail === '' || detail === 'closed' || detail === 'error')
      return `job ${jobId}: the requester disconnected (job done or tab closed)`;
    return `job ${jobId}: the connection to the requester was lost (${detail}); its units go back to its queue`;
  }
  return `job ${jobId}: session ended (${reason})`;
}
