import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { exportPrometheus } from "../../src/probe/export.ts";
import { REHEARSAL_TIMING } from "../../src/model/alerting.ts";
import { run, which } from "../../src/toolchain/inspect.ts";
import { repoRoot } from "../../src/toolchain/paths.ts";

// The probe fixture inventory (district pakdasht, gateways gw-a and gw-b) and
// the repository's catalog, exported and checked by the real tools: promtool
// (config and the file_sd files it references) and blackbox_exporter.

const INVENTORY = join(repoRoot, "test/probe/fixtures/inventory");
const CHECKS = join(repoRoot, "checks");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-export-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

async function groups(out: string, check: string): Promise<Group[]> {
  return JSON.parse(await readFile(join(out, "targets", `${check}.json`), "utf8")) as Group[];
}

describe("export prometheus", () => {
  it("writes file_sd targets with the inventory's labels, one module per check, and leaves out what blackbox cannot probe", async () => {
    const out = join(dir, "a");
    const outcome = await exportPrometheus({ inventory: INVENTORY, checks: CHECKS, out, blackbox: "127.0.0.1:19115" });
    if (!outcome.written) throw new Error(outcome.findings.map((f) => f.message).join("; "));
    expect((await readdir(join(out, "targets"))).sort()).toEqual([
      "auth-tls.json",
      "dns-answers.json",
      "gateway-https.json",
      "link-icmp.json",
      "link-tcp.json",
      "server-icmp.json",
      "server-ssh.json",
    ]);
    expect(outcome.skipped.map((s) => s.check)).toEqual(["ntp-offset", "device-checkin"]);
    const icmp = await groups(out, "link-icmp");
    expect(icmp.find((g) => g.labels.link === "PKD-0001-M")).toEqual({
      targets: ["127.77.64.1"],
      labels: {
        check: "link-icmp",
        kind: "icmp",
        station: "PKD-0001",
        link: "PKD-0001-M",
        district: "pakdasht",
        operator: "mci",
        medium: "mobile",
        province: "tehran",
        gateway: "gw-a",
        station_kind: "fixed",
        scope: "link",
        pop: "TW-MCI-1",
        owner: "mci",
        __param_module: "amadegi_link_icmp",
      },
    });
    expect(icmp.some((g) => g.labels.link === "PKD-0003-M2")).toBe(false); // planned: not probed, not monitored
    const tcp = await groups(out, "link-tcp");
    expect(tcp.find((g) => g.labels.link === "PKD-0001-F")?.targets).toEqual(["127.77.16.1:22"]);
    const https = await groups(out, "gateway-https");
    expect(https.find((g) => g.labels.server === "gw-a")).toEqual({
      targets: ["https://127.77.0.1:443/health"],
      labels: {
        check: "gateway-https",
        kind: "http",
        server: "gw-a",
        role: "gateway",
        scope: "central",
        site: expect.any(String) as string,
        __param_module: "amadegi_gateway_https__gw_a",
      },
    });
    const blackbox = await readFile(join(out, "blackbox.yml"), "utf8");
    expect(blackbox).toMatch(/amadegi_gateway_https__gw_a:\n {4}prober: http\n {4}timeout: 3s\n/);
    expect(blackbox).toMatch(/valid_status_codes:\n {8}- 200\n {6}fail_if_body_not_matches_regexp:\n {8}- ok\n/);
    expect(blackbox).toMatch(/amadegi_dns_answers:\n {4}prober: dns[\s\S]*query_name: auth\.election\.ir/);
    expect(await readFile(join(out, "prometheus.yml"), "utf8")).toContain("replacement: 127.0.0.1:19115");
  });

  it("passes promtool check config (with the file_sd files it references) and blackbox_exporter --config.check", async () => {
    const promtool = await which("promtool");
    const exporter = await which("prometheus-blackbox-exporter");
    expect(promtool, "promtool (Debian prometheus) is installed by setup").toBeDefined();
    expect(exporter, "prometheus-blackbox-exporter is installed by setup").toBeDefined();
    const out = join(dir, "b");
    expect(
      await main(["export", "prometheus", "--out", out, "--inventory", INVENTORY, "--checks", CHECKS], {
        out: () => {},
        err: () => {},
        cwd: repoRoot,
        env: process.env,
      }),
    ).toBe(0);
    const config = await run(promtool ?? "", ["check", "config", "prometheus.yml"], { cwd: out });
    expect(config.stdout).toContain("SUCCESS: prometheus.yml is valid prometheus config file syntax");
    // The rules it names are checked with it.
    expect(config.stdout).toMatch(/Checking rules\.yml\n {2}SUCCESS: \d+ rules found/);
    expect(config.code).toBe(0);
    const routes = await run("amtool", ["check-config", join(out, "alertmanager.yml")]);
    expect(routes.stdout).toContain("SUCCESS");
    expect(routes.code).toBe(0);
    const modules = await run(exporter ?? "", [`--config.file=${join(out, "blackbox.yml")}`, "--config.check"]);
    expect(modules.stderr).toContain("Config file is ok");
    expect(modules.code).toBe(0);
    // Both tools do fail on a broken file, so their passes mean something.
    await writeFile(join(out, "targets", "link-tcp.json"), '[{"targets":["x"],"labels":{"bad-label":"x"}}]\n');
    const broken = await run(promtool ?? "", ["check", "config", "prometheus.yml"], { cwd: out });
    expect(broken.code).toBe(1);
    expect(broken.stdout + broken.stderr).toContain('checking SD file "targets/link-tcp.json": "bad-label" is not a valid label name');
    await writeFile(join(out, "blackbox.yml"), "modules:\n  m:\n    prober: http\n    http:\n      valid_status_code: [200]\n");
    expect((await run(exporter ?? "", [`--config.file=${join(out, "blackbox.yml")}`, "--config.check"])).code).not.toBe(0);
  });

  it("removes the target file of a check that no longer exists; refuses a catalog with errors, writing nothing", async () => {
    const out = join(dir, "c");
    await exportPrometheus({ inventory: INVENTORY, checks: CHECKS, out });
    await writeFile(join(out, "targets", "retired-check.json"), "[]\n");
    await exportPrometheus({ inventory: INVENTORY, checks: CHECKS, out });
    expect(await readdir(join(out, "targets"))).not.toContain("retired-check.json");
    const badChecks = join(dir, "bad-checks");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(badChecks);
    await writeFile(join(badChecks, "a.yaml"), "checks:\n  - id: x\n    probe: icmp\n    select: { objects: links }\n    conditions: ['[LOS] <= 5%']\n");
    const err: string[] = [];
    expect(
      await main(["export", "prometheus", "--out", join(dir, "d"), "--inventory", INVENTORY, "--checks", badChecks], {
        out: () => {},
        err: (t) => err.push(t),
        cwd: repoRoot,
        env: process.env,
      }),
    ).toBe(2);
    expect(err.join("\n")).toMatch(/a\.yaml:5:\d+ error .*unknown placeholder \[LOS\]/);
    await expect(readdir(join(dir, "d"))).rejects.toThrow(/ENOENT/);
  });

  it("posts to --webhook on the timing asked for; refuses a webhook that is no URL or holds credentials", async () => {
    const out = join(dir, "e");
    const io = (err: string[]) => ({ out: () => {}, err: (t: string) => err.push(t), cwd: repoRoot, env: process.env });
    const argv = ["export", "prometheus", "--out", out, "--inventory", INVENTORY, "--checks", CHECKS];
    expect(await main([...argv, "--webhook", "https://sms.example.org/am", "--timing", "rehearsal"], io([]))).toBe(0);
    const am = await readFile(join(out, "alertmanager.yml"), "utf8");
    expect(am).toContain("url: https://sms.example.org/am");
    expect(am).toContain(`group_wait: ${REHEARSAL_TIMING.groupWait}s`);
    expect(await readFile(join(out, "prometheus.yml"), "utf8")).toContain(`scrape_interval: ${REHEARSAL_TIMING.scrapeInterval}s`);
    for (const bad of ["ftp://sms.example.org/", "https://user:secret@sms.example.org/", "not a url"]) {
      const err: string[] = [];
      expect(await main([...argv, "--webhook", bad], io(err)), bad).toBe(2);
      expect(err.join("\n"), bad).toMatch(/--webhook .* is not an http\(s\) URL without credentials/);
      expect(err.join("\n")).not.toContain("secret");
    }
    const err: string[] = [];
    expect(await main([...argv, "--timing", "fast"], io(err))).toBe(2);
    expect(err.join("\n")).toMatch(/--timing is "fast"/);
  });

  it("--checkins scrapes each gateway's check-in table over HTTPS with the stack's CA; without a stack's CA it refuses and writes nothing", async () => {
    const stacks = join(dir, "stacks");
    await mkdir(stacks, { recursive: true });
    await writeFile(join(stacks, "Pulumi.field.yaml"), "config:\n  amadegi:probe:\n    allow: [127.77.0.0/16]\n    ca: /etc/amadegi/servers-ca.crt\n");
    const outcome = await exportPrometheus({ inventory: INVENTORY, checks: CHECKS, out: join(dir, "f"), stack: "field", stacksDir: stacks, checkins: true });
    if (!outcome.written) throw new Error(outcome.findings.map((f) => f.message).join("; "));
    const config = load(await readFile(join(dir, "f", "prometheus.yml"), "utf8")) as {
      scrape_configs: {
        job_name: string;
        scheme?: string;
        tls_config?: Record<string, string>;
        static_configs?: { targets: string[]; labels: Record<string, string> }[];
      }[];
    };
    const gw = config.scrape_configs.find((j) => j.job_name === "amadegi-checkins-gw-a");
    expect(gw).toMatchObject({ scheme: "https", tls_config: { ca_file: "/etc/amadegi/servers-ca.crt", server_name: "gw-a" } });
    expect(gw?.static_configs?.[0]).toEqual({ targets: ["127.77.0.1:443"], labels: { scope: "checkin", gateway: "gw-a", server: "gw-a", stack: "field" } });
    // promtool accepts it (the CA file need not exist to check the configuration's form).
    const promtool = await which("promtool");
    if (promtool !== undefined) {
      const check = await run(promtool, ["check", "config", "--syntax-only", join(dir, "f", "prometheus.yml")]);
      expect(check.code, check.stderr + check.stdout).toBe(0);
    }
    await expect(exportPrometheus({ inventory: INVENTORY, checks: CHECKS, out: join(dir, "g"), checkins: true })).rejects.toThrow(
      /check-in tables are HTTPS, verified with the central servers' CA, and no --stack names it/,
    );
    await expect(readdir(join(dir, "g"))).rejects.toThrow(/ENOENT/);
  });
});
