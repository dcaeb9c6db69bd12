// Every rendered configuration, checked by the real program that reads it:
// nginx -t, unbound-checkconf, chronyd -p, promtool, blackbox_exporter, amtool
// --config.check. Each is also given a broken copy, so a checker that accepts
// anything would fail this test.
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../../src/model/index.ts";
import { DNS_FILES, GATEWAY_FILES, MONITOR_FILES, NTP_FILES, rooted, type ServerTarget, tokenScript } from "../../../src/model/render/index.ts";
import { createNetns, type Netns } from "../../helpers/netns.ts";
import { makePki, type Pki } from "../../helpers/pki.ts";
import { installTls, renderInto, run, sampleInventory, tempRoot } from "./helpers.ts";

let inventory: Inventory;
let pki: Pki;
/** nginx -t binds its listen addresses: it runs where the gateway's address exists, a namespace of its own. */
let netns: Netns;
const roots: string[] = [];

beforeAll(async () => {
  inventory = await sampleInventory();
  pki = await makePki("gw-teh1-01");
  netns = await createNetns("render-v");
  for (const id of ["gw-teh1-01", "gw-teh2-01"])
    await run("ip", ["-n", netns.name, "addr", "add", `${inventory.serversById.get(id)?.address ?? ""}/32`, "dev", "lo"]);
});

afterAll(async () => {
  await netns?.remove();
  await pki.remove();
  await Promise.all(roots.map((r) => rm(dirname(r), { recursive: true, force: true })));
});

async function rendered(serverId: string): Promise<ServerTarget> {
  const root = await tempRoot(serverId);
  roots.push(root);
  const { target } = await renderInto(inventory, serverId, root);
  await installTls(pki, target);
  // What the gateway's recorder makes on the server before it starts: the token nginx includes (the real script).
  if (serverId.startsWith("gw-")) await run("sh", ["-c", tokenScript(rooted(target, GATEWAY_FILES.recorderToken))]);
  return target;
}

/** Runs argv; its exit code and output. */
async function check(argv: readonly string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(argv[0] ?? "", argv.slice(1));
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** The checker accepts the rendered file, and rejects it with `broken` appended. */
async function acceptsAndRejects(file: string, argv: readonly string[], broken: string): Promise<void> {
  const good = await check(argv);
  expect(good.code, good.output).toBe(0);
  const original = await readFile(file, "utf8");
  await writeFile(file, original + broken);
  const bad = await check(argv);
  await writeFile(file, original);
  expect(bad.code, `${argv.join(" ")} accepted a broken file`).not.toBe(0);
}

describe("rendered configurations pass their programs' own checks", () => {
  it("nginx -t accepts the gateway's nginx.conf (with the PKI's files in place)", async () => {
    const target = await rendered("gw-teh1-01");
    const conf = rooted(target, GATEWAY_FILES.nginxConf);
    const argv = [
      "ip",
      "netns",
      "exec",
      netns.name,
      "nginx",
      "-t",
      "-p",
      rooted(target, "/etc/amadegi/nginx/"),
      "-e",
      rooted(target, GATEWAY_FILES.nginxErrorLog),
      "-c",
      conf,
    ];
    await run("mkdir", ["-p", rooted(target, "/run/amadegi"), rooted(target, "/var/log/amadegi"), rooted(target, "/var/lib/amadegi/nginx")]);
    await acceptsAndRejects(conf, argv, "\nno_such_directive on;\n");
  });

  it("the recorder's token is made once on the server: an nginx line with 64 hex digits, mode 0600, kept by the next start", async () => {
    const target = await rendered("gw-krj-01");
    const file = rooted(target, GATEWAY_FILES.recorderToken);
    const first = await readFile(file, "utf8");
    expect(first).toMatch(/^proxy_set_header X-Amadegi-Token "[0-9a-f]{64}";\n$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await run("sh", ["-c", tokenScript(file)]);
    expect(await readFile(file, "utf8")).toBe(first);
    // Another server's is its own.
    const other = await rendered("gw-teh2-02");
    expect(await readFile(rooted(other, GATEWAY_FILES.recorderToken), "utf8")).not.toBe(first);
  });

  it("nginx -t refuses the gateway's config when the devices' CA is missing (it is not optional)", async () => {
    const target = await rendered("gw-teh2-01");
    await run("mkdir", ["-p", rooted(target, "/run/amadegi"), rooted(target, "/var/log/amadegi"), rooted(target, "/var/lib/amadegi/nginx")]);
    await rm(rooted(target, "/etc/amadegi/tls/devices-ca.crt"));
    const result = await check([
      "ip",
      "netns",
      "exec",
      netns.name,
      "nginx",
      "-t",
      "-p",
      rooted(target, "/etc/amadegi/nginx/"),
      "-e",
      rooted(target, GATEWAY_FILES.nginxErrorLog),
      "-c",
      rooted(target, GATEWAY_FILES.nginxConf),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("devices-ca.crt");
  });

  it("unbound-checkconf accepts the dns server's unbound.conf", async () => {
    const target = await rendered("dns-teh1-01");
    await run("mkdir", ["-p", rooted(target, DNS_FILES.dir), rooted(target, "/run/amadegi"), rooted(target, "/var/log/amadegi")]);
    const conf = rooted(target, DNS_FILES.conf);
    await acceptsAndRejects(conf, ["unbound-checkconf", conf], "server:\n    no-such-option: yes\n");
  });

  it("chronyd -p parses the ntp server's chrony.conf", async () => {
    const target = await rendered("ntp-teh1-01");
    const conf = rooted(target, NTP_FILES.conf);
    await acceptsAndRejects(conf, ["chronyd", "-p", "-f", conf], "no_such_directive 1\n");
    // What chronyd parsed is what was rendered: every directive, none dropped.
    const printed = (await check(["chronyd", "-p", "-f", conf])).output;
    const directives = (await readFile(conf, "utf8")).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(printed.trim().split("\n")).toEqual(directives);
  });

  it("promtool accepts prometheus.yml (its target files included) and blackbox_exporter its blackbox.yml", async () => {
    const target = await rendered("mon-teh1-01");
    const prometheus = rooted(target, MONITOR_FILES.prometheus);
    await acceptsAndRejects(prometheus, ["promtool", "check", "config", prometheus], "no_such_key: 1\n");
    const blackbox = rooted(target, MONITOR_FILES.blackbox);
    await acceptsAndRejects(blackbox, ["prometheus-blackbox-exporter", "--config.check", `--config.file=${blackbox}`], "no_such_key: 1\n");
    // prometheus.yml names the rules: promtool checks them with it; and the rules alone.
    expect((await check(["promtool", "check", "config", prometheus])).output).toMatch(/SUCCESS: \d+ rules found/);
    const rules = rooted(target, MONITOR_FILES.rules);
    await acceptsAndRejects(rules, ["promtool", "check", "rules", rules], "no_such_key: 1\n");
  });

  it("amtool accepts the monitor's alertmanager.yml", async () => {
    const target = await rendered("mon-teh1-01");
    const conf = rooted(target, MONITOR_FILES.alertmanager);
    await acceptsAndRejects(conf, ["amtool", "check-config", conf], "no_such_key: 1\n");
  });

  it("systemd accepts the production units (systemd-analyze verify)", async (ctx) => {
    const probe = await check(["systemd-analyze", "--version"]);
    if (probe.code !== 0) ctx.skip("systemd-analyze is not installed");
    const { renderServer } = await import("../../../src/model/render/index.ts");
    const root = await tempRoot("units");
    roots.push(root);
    for (const id of ["gw-teh1-01", "dns-teh1-01", "ntp-teh1-01", "mon-teh1-01"]) {
      const server = inventory.serversById.get(id);
      if (server === undefined) throw new Error(id);
      const renders = renderServer(inventory, id, { root: "", environment: "production", address: server.address });
      const units = renders.flatMap((r) => r.files).filter((f) => f.path.startsWith("/etc/systemd/system/"));
      expect(units.length).toBe(renders.flatMap((r) => r.services).length);
      for (const unit of units) {
        const file = `${root}/${unit.path.split("/").pop() ?? ""}`;
        await run("mkdir", ["-p", root]);
        await writeFile(file, unit.content);
        // The programs may be absent where this runs; only the unit's syntax is ours.
        const result = await check(["systemd-analyze", "verify", "--man=no", file]);
        const complaints = result.output
          .split("\n")
          .filter(
            (l) => l.includes(file.split("/").pop() ?? "") && !/Command .* is not executable|not found|Failed to prepare filename|Unit .* not found/.test(l),
          );
        expect(complaints, result.output).toEqual([]);
      }
    }
    // And it does complain about a unit that is wrong.
    const broken = `${root}/amadegi-broken.service`;
    await writeFile(broken, "[Service]\nType=forking\nExecStart=relative/program\nNoSuchKey=1\n");
    const result = await check(["systemd-analyze", "verify", "--man=no", broken]);
    expect(result.output).toMatch(/amadegi-broken\.service.*(Unknown key|absolute)/);
  });
});
