/** Identifiers every layer shares, defined once. */
import * as v from 'valibot';

/** A job's id: 8–64 URL-safe characters, chosen by its requester (random in the app). */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
export const JobIdSchema = v.pipe(v.string(), v.regex(JOB_ID_PATTERN, 'job id is 8–64 url-safe characters'));
export type JobId = v.InferOutput<typeof JobIdSchema>;
