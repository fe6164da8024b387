/**
 * The DENO_DIR of sandbox children: the conductor's own, never the user's cache.
 *
 * Security: localStorage and the Cache API write into `DENO_DIR/location_data/<hash of
 * the main module>` with no permission. Every child has the same main module (the
 * bootstrap), so that folder would be a channel between conversations and a disk filler.
 * A regular FILE at that path makes both APIs throw, even as root, while npm imports
 * keep working.
 */
import { join } from "node:path";

export async function prepareDenoDir(denoDir: string): Promise<void> {
  await Deno.mkdir(denoDir, { recursive: true });
  const locationData = join(denoDir, "location_data");
  const info = await Deno.lstat(locationData).catch(() => undefined);
  if (info?.isFile) return;
  if (info) await Deno.remove(locationData, { recursive: true });
  await Deno.writeTextFile(
    locationData,
    "Placeholder: localStorage and the Cache API are disabled for sandboxed code.\n",
  );
}
