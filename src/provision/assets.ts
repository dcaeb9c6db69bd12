import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { writeFileAtomicSync } from "../lib/fs.ts";
import { sha256 } from "./scripts.ts";

/**
 * A file's content as the asset a `CopyToRemote` copies, kept out of the checkpoint (ADR 0010): the
 * content is written once to `dir/<sha256>` and the asset names that file, so the checkpoint holds
 * the path and the hash, never the bytes. The engine compares assets by hash, so the same content at
 * another state directory (another checkout, another machine) is no change.
 *
 * A file already there is read back and used only if its bytes still hash to its name: a file changed
 * under the state directory is written again, never copied to a server.
 */
export function storedAsset(dir: string, content: string): pulumi.asset.FileAsset {
  const digest = sha256(content);
  const path = join(dir, digest);
  if (!existsSync(path) || sha256(readFileSync(path, "utf8")) !== digest) writeFileAtomicSync(path, content);
  return new pulumi.asset.FileAsset(path);
}
