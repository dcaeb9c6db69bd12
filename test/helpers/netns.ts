// A network namespace made by a test (`amadegi-t-<tag>-<pid>`), with only
// `lo`, and an nftables ruleset of the test's choosing inside it: black holes
// and rejections on loopback addresses without touching the machine's own
// firewall. A probe runs inside it through `ip netns exec` (probe-child.ts).
// The namespace has no other interface, so nothing sent in it can leave.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Netns {
  readonly name: string;
  /** Runs argv inside the namespace; resolves with its exit code and output. */
  exec(argv: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

export async function createNetns(tag: string, nftRules?: string): Promise<Netns> {
  const name = `amadegi-t-${tag}-${process.pid}`;
  // A namespace left by a crashed earlier run of this same pid would make `add` fail.
  await run("ip", ["netns", "del", name]).catch(() => undefined);
  await run("ip", ["netns", "add", name]);
  const netns: Netns = {
    name,
    exec: (argv, input) =>
      new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", name, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        // A command that exits without reading its input closes the pipe first: EPIPE is not a failure of the test.
        child.stdin.on("error", () => undefined);
        child.stdin.end(input ?? "");
      }),
    remove: async () => {
      await run("ip", ["netns", "del", name]).catch(() => undefined);
    },
  };
  try {
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    if (nftRules !== undefined) {
      const result = await netns.exec(["nft", "-f", "-"], nftRules);
      if (result.code !== 0) throw new Error(`nft in ${name}: ${result.stderr}`);
    }
  } catch (error) {
    await netns.remove();
    throw error;
  }
  return netns;
}

/** True when namespaces and nft can be used here (root, iproute2, nftables). */
export async function netnsAvailable(): Promise<boolean> {
  try {
    const ns = await createNetns("probe", "table ip t { }");
    await ns.remove();
    return true;
  } catch {
    return false;
  }
}
