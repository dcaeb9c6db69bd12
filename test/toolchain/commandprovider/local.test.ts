// local.Command's run, with real processes: what reaches the command and what comes back.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandFailed, exitText, runLocal } from "../../../src/toolchain/commandprovider/local.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-local-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("runLocal", () => {
  it("runs /bin/sh -c in dir with environment and stdin; stdout and stderr apart, one trailing newline off", async () => {
    const out = await runLocal({ command: 'pwd; printf "%s\\n" "$GREETING"; cat; echo oops >&2', dir, environment: { GREETING: "salam" }, stdin: "fed\n\n" });
    expect(out).toEqual({ stdout: `${dir}\nsalam\nfed\n`, stderr: "oops" });
  });

  it("passes the previous outputs as PULUMI_COMMAND_STDOUT/STDERR unless told not to, and only when not empty", async () => {
    const command = 'echo "[${PULUMI_COMMAND_STDOUT-unset}] [${PULUMI_COMMAND_STDERR-unset}]"';
    expect((await runLocal({ command, previous: { stdout: "o", stderr: "" } })).stdout).toBe("[o] [unset]");
    expect((await runLocal({ command, previous: { stdout: "o", stderr: "e" }, addPreviousOutputInEnv: false })).stdout).toBe("[unset] [unset]");
  });

  it("runs another interpreter with the command as its last argument", async () => {
    expect((await runLocal({ command: "console.log(6 * 7)", interpreter: [process.execPath, "-e"] })).stdout).toBe("42");
  });

  it("fails with the exit status, the command and its output, as Pulumi's does", async () => {
    const failure = await runLocal({ command: "echo before; echo broken >&2; exit 3" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CommandFailed);
    expect((failure as CommandFailed).exitCode).toBe(3);
    expect((failure as CommandFailed).message).toBe('exit status 3: running "echo before; echo broken >&2; exit 3":\nbefore\nbroken\n');
  });

  it("fails naming a dir that does not exist", async () => {
    await expect(runLocal({ command: "true", dir: join(dir, "nope") })).rejects.toThrow(`chdir ${join(dir, "nope")}: no such file or directory`);
  });

  it("logs the lines the logging setting asks for", async () => {
    const lines: string[] = [];
    await runLocal({ command: "echo out; echo err >&2", logging: "stderr", onLine: (l) => lines.push(l) });
    expect(lines).toEqual(["err"]);
    const all: string[] = [];
    await runLocal({ command: "printf 'a\\nb'", onLine: (l) => all.push(l) });
    expect(all).toEqual(["a", "b"]);
  });

  it("words a signal as Go does", () => {
    expect(exitText(null, "SIGKILL")).toBe("signal: killed");
    expect(exitText(2, null)).toBe("exit status 2");
  });
});
