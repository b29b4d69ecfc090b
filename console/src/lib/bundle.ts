// Verifying an evidence bundle in the browser: every file listed in manifest.json must be in
// the zip with the SHA-256 the manifest states, and nothing unlisted may ride along.
import { unzipSync } from "fflate";

export interface BundleCheck {
  intact: boolean;
  files: { name: string; ok: boolean; reason?: string }[];
  manifest: Record<string, unknown> | null;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function verifyBundle(zip: Uint8Array): Promise<BundleCheck> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch {
    return { intact: false, files: [{ name: "(archive)", ok: false, reason: "not a readable zip" }], manifest: null };
  }
  const raw = entries["manifest.json"];
  if (!raw) return { intact: false, files: [{ name: "manifest.json", ok: false, reason: "missing" }], manifest: null };
  const manifest = JSON.parse(new TextDecoder().decode(raw)) as {
    files?: Record<string, { sha256: string }>;
  } & Record<string, unknown>;
  const listed = manifest.files ?? {};
  const files: BundleCheck["files"] = [];
  for (const [name, { sha256 }] of Object.entries(listed)) {
    const content = entries[name];
    if (!content) {
      files.push({ name, ok: false, reason: "missing from the archive" });
      continue;
    }
    const actual = await sha256Hex(content);
    files.push(actual === sha256 ? { name, ok: true } : { name, ok: false, reason: "SHA-256 differs" });
  }
  for (const name of Object.keys(entries)) {
    if (name !== "manifest.json" && !(name in listed)) files.push({ name, ok: false, reason: "not in the manifest" });
  }
  return { intact: files.length > 0 && files.every((f) => f.ok), files, manifest };
}
