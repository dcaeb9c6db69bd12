// The amadegi CLI as a person runs it: its own process (bin/amadegi.js), from
// the repository root, in an environment of the test's choosing (a throwaway
// Pulumi backend, usually). Never throws for an exit code: the code says.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../src/toolchain/paths.ts";

const exec = promisify(execFile);

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv | undefined, cwd = repoRoot): Promise<CliRun> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(repoRoot, "bin/amadegi.js"), ...args], {
      cwd,
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
