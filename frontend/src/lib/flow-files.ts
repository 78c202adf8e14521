/** Flow exports as files: the download of an export and its file name. */

/** `Sync orders` -> `sync-orders.flow.json` (letters, digits and dashes only). */
export function exportFileName(flowName: string): string {
  const slug = flowName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${slug || "flow"}.flow.json`;
}

/** Offer `data` as a JSON file download named `fileName`. */
export function downloadJson(fileName: string, data: unknown): void {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}
