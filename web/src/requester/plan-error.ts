/** The error a job's plan is refused with: words for the requester, onnxruntime's own under `details`. */
export class PlanError extends Error {
  override name = 'PlanError';
  /** onnxruntime's own words, for a "details" view, where they were reworded in the message. */
  readonly details?: string;
  constructor(message: string, details?: string) {
    super(message);
    if (details !== undefined) this.details = details;
  }
}
