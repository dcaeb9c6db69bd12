// Check of the stand-in command provider: the schema's inputs and defaults, and what it refuses before anything runs.
import { describe, expect, it } from "vitest";
import { check, COPY_TO_REMOTE, inputKeys, LOCAL_COMMAND, REMOTE_COMMAND } from "../../../src/toolchain/commandprovider/check.ts";
import { ARCHIVE_SIG, ASSET_SIG, reveal, secret, SIG_KEY, UNKNOWN } from "../../../src/toolchain/commandprovider/wire.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("check", () => {
  it("passes a local.Command's inputs through, unknowns and secrets as they are", () => {
    const news = { create: "echo hi", environment: { A: secret("x") }, stdin: UNKNOWN, triggers: [1, "a"], logging: "stderr" };
    expect(check(LOCAL_COMMAND, news)).toEqual({ inputs: news, failures: [] });
  });

  it("names a wrongly typed input", () => {
    const { failures } = check(LOCAL_COMMAND, { create: 3, interpreter: "sh", logging: "loud", addPreviousOutputInEnv: "no" });
    expect(failures.map((f) => f.property)).toEqual(["create", "logging", "interpreter", "addPreviousOutputInEnv"]);
    expect(failures[1]?.reason).toBe("logging must be one of stdout, stderr, stdoutAndStderr, none");
  });

  it("refuses assetPaths and archivePaths, naming the way out", () => {
    const { failures } = check(LOCAL_COMMAND, { create: "x", assetPaths: ["*.txt"] });
    expect(failures).toEqual([
      {
        property: "assetPaths",
        reason:
          "assetPaths is not supported by amadegi's stand-in for pulumi-resource-command: copy the files with a command, or read them in the program, " +
          "or install Pulumi's pulumi-resource-command 1.2.1",
      },
    ]);
  });

  it("gives a connection the schema's defaults and makes it secret", () => {
    const { inputs, failures } = check(REMOTE_COMMAND, { create: "x", connection: { host: "127.0.0.1", hostKey: KEY } });
    expect(failures).toEqual([]);
    expect(inputs.connection).toEqual(secret({ host: "127.0.0.1", hostKey: KEY, user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15 }));
  });

  it("refuses a connection or a proxy without a pinned host key, and a password", () => {
    const { failures } = check(REMOTE_COMMAND, { connection: secret({ host: "h", password: "p", proxy: { host: "bastion" } }) });
    expect(failures.map((f) => f.property)).toEqual(["connection.hostKey", "connection.password", "connection.proxy.hostKey"]);
    expect(failures[0]?.reason).toContain("amadegi never connects to a server whose host key is not pinned");
    expect(failures[0]?.reason).toContain("ssh-keyscan");
  });

  it("requires a remote.Command's connection and a CopyToRemote's source and remotePath", () => {
    expect(check(REMOTE_COMMAND, { create: "x" }).failures.map((f) => f.property)).toEqual(["connection"]);
    expect(check(COPY_TO_REMOTE, { connection: { host: "h", hostKey: KEY } }).failures.map((f) => f.property)).toEqual(["source", "remotePath"]);
  });

  it("takes a file or text asset and a path archive as a CopyToRemote source, as Pulumi's Check does", () => {
    const base = { connection: { host: "h", hostKey: KEY }, remotePath: "/tmp/x" };
    expect(check(COPY_TO_REMOTE, { ...base, source: { [SIG_KEY]: ASSET_SIG, hash: "h", text: "hi" } }).failures).toEqual([]);
    expect(check(COPY_TO_REMOTE, { ...base, source: { [SIG_KEY]: ARCHIVE_SIG, hash: "h", path: "dir" } }).failures).toEqual([]);
    expect(check(COPY_TO_REMOTE, { ...base, source: { [SIG_KEY]: ASSET_SIG, hash: "h", uri: "https://x" } }).failures).toEqual([
      { property: "asset", reason: "asset must be a path-based file asset or a text asset" },
    ]);
    expect(check(COPY_TO_REMOTE, { ...base, source: { [SIG_KEY]: ARCHIVE_SIG, hash: "h", assets: {} } }).failures).toEqual([
      { property: "archive", reason: "archive must be a path to a file or directory" },
    ]);
  });

  it("lists each type's inputs as the schema does", () => {
    expect(inputKeys(REMOTE_COMMAND).sort()).toEqual([
      "addPreviousOutputInEnv",
      "connection",
      "create",
      "delete",
      "environment",
      "logging",
      "stdin",
      "triggers",
      "update",
    ]);
    expect(inputKeys(COPY_TO_REMOTE).sort()).toEqual(["connection", "remotePath", "source", "triggers"]);
    expect(reveal(check(COPY_TO_REMOTE, { connection: UNKNOWN }).inputs.connection)).toBe(UNKNOWN);
  });
});
