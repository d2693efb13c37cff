/** How many Brown texts the browser bundles (corpus.ts loads them lazily). */
export const MAX_BROWN_FILES = 16;
