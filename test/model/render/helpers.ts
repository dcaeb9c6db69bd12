// Helpers for the role renderer tests: the sample inventory (loaded once),
// a server's render written under a throwaway root, and the PKI's files
// (throwaway certificates from test/helpers/pki.ts) where the roles expect them.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { writeFileAtomic } from "../../../src/lib/fs.ts";
import { hasErrors, type Inventory, loadInventory } from "../../../src/model/index.ts";
import { renderServer, rooted, TLS_FILES, type RoleRender, type ServerTarget } from "../../../src/model/render/index.ts";
import type { Pki } from "../../helpers/pki.ts";
import { TODAY } from "../fixture.ts";

export const run = promisify(execFile);
export const REPO = join(import.meta.dirname, "..", "..", "..");

let sample: Promise<Inventory> | undefined;

/** The repository's sample inventory (Pakdasht and Tehran), validated. */
export function sampleInventory(): Promise<Inventory> {
  sample ??= loadInventory(join(REPO, "inventory"), { today: TODAY }).then((result) => {
    if (result.inventory === undefined || hasErrors(result.findings)) throw new Error("the sample inventory does not load: run `amadegi validate`");
    return result.inventory;
  });
  return sample;
}

export async function tempRoot(tag: string): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), `amadegi-t-render-${tag}-`)), "root");
}

/** A rehearsal-shaped target for a server of the inventory. */
export function rehearsalTarget(inventory: Inventory, serverId: string, root: string): ServerTarget {
  const server = inventory.serversById.get(serverId);
  if (server === undefined) throw new Error(`no server ${serverId}`);
  return { root, environment: "rehearsal", address: server.address };
}

/** Write every file of the renders under the target's root, with its mode. */
export async function writeRenders(renders: readonly RoleRender[], target: ServerTarget): Promise<void> {
  for (const render of renders) {
    for (const file of render.files) await writeFileAtomic(rooted(target, file.path), file.content, file.mode);
  }
}

export async function renderInto(inventory: Inventory, serverId: string, root: string): Promise<{ renders: RoleRender[]; target: ServerTarget }> {
  const target = rehearsalTarget(inventory, serverId, root);
  const renders = renderServer(inventory, serverId, target);
  await writeRenders(renders, target);
  return { renders, target };
}

/** The files the PKI would write: the server's certificate and key, the devices' and servers' CA. */
export async function installTls(pki: Pki, target: ServerTarget): Promise<void> {
  const put = async (from: string, to: string): Promise<void> => {
    await mkdir(dirname(rooted(target, to)), { recursive: true });
    await copyFile(from, rooted(target, to));
  };
  await put(pki.good.certFile, TLS_FILES.serverCert);
  await put(pki.good.keyFile, TLS_FILES.serverKey);
  await put(pki.caFile, TLS_FILES.devicesCa);
  await put(pki.caFile, TLS_FILES.serversCa);
  await put(pki.crlFile, TLS_FILES.devicesCrl);
}
