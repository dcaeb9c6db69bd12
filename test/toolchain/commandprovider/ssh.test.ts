// Unit: the stand-in's network-safety rule (which namespace may connect where), without a connection.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Connection, MACHINE_NAMESPACE_OPT_IN, namespaceRefusal } from "../../../src/toolchain/commandprovider/ssh.ts";
import { createNetns, netnsAvailable } from "../../helpers/netns.ts";

const noNetns = process.getuid?.() !== 0 ? "not root" : !(await netnsAvailable()) ? "no network namespaces" : undefined;

const endpoint = { port: 22, user: "amadegi", hostKey: "ssh-ed25519 AAAA", dialErrorLimit: 10, perDialTimeout: 15 };
const to = (host: string, proxy?: string): Connection => ({ ...endpoint, host, ...(proxy === undefined ? {} : { proxy: { ...endpoint, host: proxy } }) });
const machine = () => false;
const namespace = () => true;

describe("the stand-in's network-safety rule", () => {
  it("refuses an inventory address from the machine's own namespace, naming the way out, before anything is sent", () => {
    const refusal = namespaceRefusal(to("10.10.1.11"), {}, machine);
    expect(refusal).toContain("refusing to connect to amadegi@10.10.1.11:22 from this machine's own network namespace: nothing was sent");
    expect(refusal).toContain("ip netns exec <namespace> pulumi");
    expect(refusal).toContain(`${MACHINE_NAMESPACE_OPT_IN}=1`);
  });

  it("refuses a loopback target reached through a proxy that is not loopback", () => {
    expect(namespaceRefusal(to("127.0.0.1", "10.10.0.2"), {}, machine)).toContain("nothing was sent");
  });

  it("allows loopback from anywhere, anything from inside a named namespace (ip netns), and anything on a deploy host that opts in", () => {
    expect(namespaceRefusal(to("127.0.0.1"), {}, machine)).toBeUndefined();
    expect(namespaceRefusal(to("::1"), {}, machine)).toBeUndefined();
    expect(namespaceRefusal(to("10.10.1.11"), {}, namespace)).toBeUndefined();
    expect(namespaceRefusal(to("10.10.1.11"), { [MACHINE_NAMESPACE_OPT_IN]: "1" }, machine)).toBeUndefined();
    // Only "1" opts in.
    expect(namespaceRefusal(to("10.10.1.11"), { [MACHINE_NAMESPACE_OPT_IN]: "yes" }, machine)).toBeDefined();
  });

  it("this test process, in no named namespace, is refused (the rule above is the one that applies here)", () => {
    expect(namespaceRefusal(to("10.10.1.11"), {})).toBeDefined();
  });

  it.skipIf(noNetns !== undefined)(
    `a process inside a namespace ip netns made is allowed${noNetns === undefined ? "" : ` (skipped: ${noNetns})`}`,
    async () => {
      const netns = await createNetns("ssh");
      try {
        const module = fileURLToPath(new URL("../../../src/toolchain/commandprovider/ssh.ts", import.meta.url));
        const call = `namespaceRefusal(${JSON.stringify(to("10.10.1.11"))}, {})`;
        const script = `const { namespaceRefusal } = await import(${JSON.stringify(module)}); process.stdout.write(String(${call}));`;
        const run = await netns.exec([process.execPath, "--input-type=module", "-e", script]);
        expect(run.stderr).toBe("");
        expect(run.stdout).toBe("undefined");
      } finally {
        await netns.remove();
      }
    },
  );
});
