// Unit: a role's files kept as one archive in the stack's store, named by their paths' and contents' sha256 (ADR 0010, 0012).
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedArchive } from "../../src/provision/assets.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-assets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("storedArchive", () => {
  const conf = { path: "/etc/nginx/conf.d/gw.conf", content: "server {}\n" };
  const table = { path: "/etc/amadegi/links.json", content: "[]\n" };
  const files = [conf, table];
  const tree = async (store: string): Promise<string> => String(await storedArchive(store, files).path);

  it("writes each file at its path under one directory named by the files' paths and hashes, named with a trailing slash", async () => {
    const store = join(dir, "a1");
    const path = await tree(store);
    expect(path).toMatch(new RegExp(`^${store}/tree-[0-9a-f]{64}/$`));
    expect(await readFile(join(path, "etc/nginx/conf.d/gw.conf"), "utf8")).toBe("server {}\n");
    expect(await readFile(join(path, "etc/amadegi/links.json"), "utf8")).toBe("[]\n");
    // The same files in another order: the same archive, nothing else written.
    expect(String(await storedArchive(store, [...files].reverse()).path)).toBe(path);
    expect(await readdir(store)).toHaveLength(1);
    // Another content, or the same content at another path: another archive.
    const changed = String(await storedArchive(store, [{ ...conf, content: "server { listen 443; }\n" }, table]).path);
    const moved = String(await storedArchive(store, [{ ...conf, path: "/etc/nginx/gw.conf" }, table]).path);
    expect(new Set([path, changed, moved]).size).toBe(3);
  });

  it("writes the archive again when a file in it was changed, added or replaced by a link under the store", async () => {
    const store = join(dir, "a2");
    const path = await tree(store);
    await writeFile(join(path, "etc/amadegi/links.json"), '["forged"]\n');
    expect(await tree(store)).toBe(path);
    expect(await readFile(join(path, "etc/amadegi/links.json"), "utf8")).toBe("[]\n");
    // An extra file would be copied to the server's root with the rest.
    await mkdir(join(path, "root/.ssh"), { recursive: true });
    await writeFile(join(path, "root/.ssh/authorized_keys"), "ssh-ed25519 AAAA intruder\n");
    await tree(store);
    await expect(readdir(join(path, "root"))).rejects.toThrow("ENOENT");
    await rm(join(path, "etc/nginx/conf.d/gw.conf"));
    await symlink("/etc/passwd", join(path, "etc/nginx/conf.d/gw.conf"));
    await tree(store);
    expect(await readFile(join(path, "etc/nginx/conf.d/gw.conf"), "utf8")).toBe("server {}\n");
  });

  it("refuses a path that is not absolute and plain, or a path declared twice, naming it", () => {
    const store = join(dir, "a3");
    expect(() => storedArchive(store, [{ path: "etc/x", content: "" }])).toThrow('archive file "etc/x": not an absolute path');
    expect(() => storedArchive(store, [{ path: "/etc/../root/x", content: "" }])).toThrow('archive file "/etc/../root/x": not an absolute path');
    expect(() => storedArchive(store, [{ path: "/etc//x", content: "" }])).toThrow("not an absolute path of plain segments");
    expect(() => storedArchive(store, [conf, conf])).toThrow("archive file /etc/nginx/conf.d/gw.conf: declared twice");
  });
});
