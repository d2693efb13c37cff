/** Hands a Blob to the browser as a download named `fileName`. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: fileName });
  a.click();
  // Revoked later, not at once: the download starts after this task.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
