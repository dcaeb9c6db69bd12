// Provisioning's transport against a real sshd on loopback: files written
// whole with their modes, services' commands run, hashes read back, removal,
// and the guards that refuse a target before any packet is sent.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffFiles } from "../../../src/provision/diff.ts";
import { applyFiles, type FilesInputs, parseHashes, removeFiles, sha256, writeScript } from "../../../src/provision/remote/files.ts";
import { type Connection, guardTarget, runRemote } from "../../../src/provision/remote/ssh.ts";
import { type Sshd, startSshd } from "../../helpers/sshd.ts";

describe("provisioning files over SSH", () => {
  let sshd: Sshd;
  let root: string;
  let connection: Connection;

  beforeAll(async () => {
    sshd = await startSshd("127.0.0.1");
    root = await mkdtemp(join(tmpdir(), "amadegi-t-root-"));
    connection = { host: sshd.address, port: sshd.port, user: "root", hostKey: sshd.hostKey, identityFile: sshd.clientKeyFile, allow: ["127.0.0.0/8"] };
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(root, { recursive: true, force: true });
  });

  const inputs = (files: FilesInputs["files"], start: string[] = [], stop: string[] = []): FilesInputs => ({
    server: "gw-test",
    role: "gateway",
    connection,
    root,
    epoch: "",
    files,
    start,
    stop,
  });

  it("writes files under the root with their modes, runs the start commands, and records what the server reads back", async () => {
    const marker = join(root, "started");
    const state = await applyFiles(
      inputs(
        [
          { path: "/etc/amadegi/a.conf", content: "listen 443;\n", mode: 0o644 },
          { path: "/etc/amadegi/tls/server.key", content: "-----BEGIN KEY-----\n'quoted' $HOME `x`\n", mode: 0o600 },
        ],
        [`echo started > '${marker}'`],
      ),
    );
    expect(await readFile(join(root, "etc/amadegi/a.conf"), "utf8")).toBe("listen 443;\n");
    expect(await readFile(join(root, "etc/amadegi/tls/server.key"), "utf8")).toBe("-----BEGIN KEY-----\n'quoted' $HOME `x`\n");
    expect((await stat(join(root, "etc/amadegi/tls/server.key"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, "etc/amadegi/a.conf"))).mode & 0o777).toBe(0o644);
    expect(await readFile(marker, "utf8")).toBe("started\n");
    expect(state.hashes).toEqual({
      "/etc/amadegi/a.conf": sha256("listen 443;\n"),
      "/etc/amadegi/tls/server.key": sha256("-----BEGIN KEY-----\n'quoted' $HOME `x`\n"),
    });
  });

  it("an update removes the files no longer declared", async () => {
    const first = await applyFiles(
      inputs([
        { path: "/etc/amadegi/old.conf", content: "old\n", mode: 0o644 },
        { path: "/etc/amadegi/keep.conf", content: "k\n", mode: 0o644 },
      ]),
    );
    const second = await applyFiles(inputs([{ path: "/etc/amadegi/keep.conf", content: "k2\n", mode: 0o644 }]), first);
    expect(existsSync(join(root, "etc/amadegi/old.conf"))).toBe(false);
    expect(Object.keys(second.hashes)).toEqual(["/etc/amadegi/keep.conf"]);
  });

  it("a start command that fails fails the apply, naming the server and what it printed", async () => {
    await expect(
      applyFiles(inputs([{ path: "/etc/amadegi/b.conf", content: "b\n", mode: 0o644 }], ["echo 'nginx: [emerg] bad directive' >&2; exit 1"])),
    ).rejects.toThrow(/server gw-test \(gateway\): provisioning failed: .*bad directive/);
  });

  it("removal runs the stop commands and deletes the files", async () => {
    const stopped = join(root, "stopped");
    const state = await applyFiles(inputs([{ path: "/etc/amadegi/c.conf", content: "c\n", mode: 0o644 }], [], [`touch '${stopped}'`]));
    await removeFiles(state);
    expect(existsSync(join(root, "etc/amadegi/c.conf"))).toBe(false);
    expect(existsSync(stopped)).toBe(true);
  });

  it("a wrong host key is refused by ssh: nothing is written", async () => {
    const wrong = { ...connection, hostKey: sshd.otherHostKey };
    await expect(applyFiles({ ...inputs([{ path: "/etc/amadegi/d.conf", content: "d\n", mode: 0o644 }]), connection: wrong })).rejects.toThrow(
      /provisioning failed: .*(Host key verification failed|REMOTE HOST IDENTIFICATION)/,
    );
    expect(existsSync(join(root, "etc/amadegi/d.conf"))).toBe(false);
  });

  it("refuses an address outside the stack's ranges, and a namespaced stack run from outside its namespace, before ssh starts", async () => {
    expect(() => guardTarget("gw-test", { ...connection, allow: ["10.0.0.0/8"] })).toThrow(
      /outside the ranges this stack may reach \(10\.0\.0\.0\/8\); nothing was sent/,
    );
    expect(() => guardTarget("gw-test", { ...connection, netns: "amadegi-no-such-ns" })).toThrow(/must run inside network namespace amadegi-no-such-ns/);
    await expect(runRemote("gw-test", { ...connection, allow: ["10.0.0.0/8"] }, "true")).rejects.toThrow(/outside the ranges/);
  });

  it("refuses a path with .. (a renderer bug) before anything is sent", () => {
    expect(() => writeScript({ server: "gw-test", root, files: [{ path: "/etc/../root/x", content: "", mode: 0o600 }], start: [] })).toThrow(
      /must be absolute, without "\.\."/,
    );
  });

  it("reads sha256sum's output after the marker only", () => {
    const h = "a".repeat(64);
    expect(parseHashes(`noise ${h}  etc/x\nAMADEGI-HASHES\n${h}  etc/amadegi/x.conf\n`)).toEqual({ "/etc/amadegi/x.conf": h });
  });

  it("diff: content, commands and connection change in place; another root or server replaces", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "amadegi-t-diff-"));
    try {
      await writeFile(join(scratch, "x"), "x");
      const declared = inputs([{ path: "/etc/x", content: "x\n", mode: 0o644 }], ["start"], ["stop"]);
      const recorded = { server: "gw-test", role: "gateway", connection, root, hashes: { "/etc/x": sha256("x\n") }, start: ["start"], stop: ["stop"] };
      expect(diffFiles(recorded, declared)).toEqual({ changes: false });
      expect(diffFiles(recorded, { ...declared, files: [{ path: "/etc/x", content: "y\n", mode: 0o644 }] })).toEqual({ changes: true });
      expect(diffFiles(recorded, { ...declared, start: ["start2"] })).toEqual({ changes: true });
      expect(diffFiles(recorded, { ...declared, root: scratch })).toEqual({ changes: true, replaces: ["root"], deleteBeforeReplace: true });
      // A rehearsal built again (its servers start empty) re-provisions everything; a state from before epochs counts as "".
      expect(diffFiles({ ...recorded, epoch: "2026-11-22T08:00:00.000Z" }, { ...declared, epoch: "2026-11-22T09:00:00.000Z" })).toEqual({ changes: true });
      expect(diffFiles(recorded, { ...declared, epoch: "" })).toEqual({ changes: false });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
