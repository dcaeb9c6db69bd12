// The monitor's link prober (src/model/render/assets/link-prober.sh; ADR 0013, "The links' prober"),
// run for real: fping pings in a namespace this test makes (only its loopback; one address black-holed
// by nftables), node_exporter's textfile collector serves the round, and what it serves is read back.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINK_PROBER_TARGETS, type MonitorTarget, renderMonitoring } from "../../../src/model/monitoring.ts";
import { LINK_CHECK, LINK_PROBER_ASSET } from "../../../src/model/render/index.ts";
import { createNetns, type Netns } from "../../helpers/netns.ts";
import { run, sampleInventory } from "./helpers.ts";

const RULES = `table ip amadegi_t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 127.66.0.9 icmp type echo-request drop
  }
}
`;
const EXPORTER = "127.0.0.1:19119";

/** Ids as hostile as a pull request could make them: quotes, backslashes, a line break, a tab, another script. */
const LINKS = [
  { address: "127.0.0.2", station: 'ST "1" \\ تهران', link: "L-1\nsecond line", answers: true },
  { address: "127.66.0.9", station: "ST-2\tTAB", link: 'L-2 "quoted"', answers: false },
  { address: "127.0.0.4", station: "ST-3", link: "L-3\\", answers: true },
];

function target(l: (typeof LINKS)[number]): MonitorTarget {
  return {
    key: `${LINK_CHECK.id}/${l.station}/${l.link}`,
    check: LINK_CHECK.id,
    kind: LINK_CHECK.kind,
    address: l.address,
    station: l.station,
    link: l.link,
    params: {},
    ...(l.station === "ST-3" ? { operator: "tci", medium: "fiber" } : {}),
  };
}

/** A text-format line's labels, unescaped (`\\`, `\"`, `\n`), in their order. */
function labelsOf(text: string): [string, string][] {
  const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  return [...text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? "", unescape(m[2] ?? "")]);
}

describe("the link prober", () => {
  let ns: Netns;
  let dir: string;
  beforeAll(async () => {
    ns = await createNetns("lprobe", RULES);
    await ns.exec(["ip", "link", "set", "lo", "up"]);
    dir = await mkdtemp(join(tmpdir(), "amadegi-lprobe-"));
  });
  afterAll(async () => {
    // Whatever a failed run left (a namespace's removal does not end its processes).
    const pids = ns === undefined ? "" : (await run("ip", ["netns", "pids", ns.name]).catch(() => ({ stdout: "" }))).stdout.trim();
    if (pids !== "") await run("kill", ["-KILL", ...pids.split("\n")]).catch(() => undefined);
    await ns?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("writes every link's probe_success with its labels, which node_exporter serves back exactly; stopped, it leaves nothing running", async () => {
    const inventory = await sampleInventory();
    const rendered = renderMonitoring(inventory, [LINK_CHECK], LINKS.map(target), { stack: "rehearsal", linkProber: { exporter: EXPORTER } });
    const targets = rendered.files.get(LINK_PROBER_TARGETS) ?? "";
    // Every line names every label, so node_exporter sees one label set for the metric.
    const names = targets
      .trim()
      .split("\n")
      .map((line) => labelsOf(line.slice(line.indexOf("\t") + 1)).map(([n]) => n));
    expect(names).toHaveLength(LINKS.length);
    for (const n of names) expect(n).toEqual(names[0]);
    expect(rendered.files.has(`targets/${LINK_CHECK.id}.json`)).toBe(false);
    await writeFile(join(dir, "links.tsv"), targets);
    const out = join(dir, "textfiles");
    const started = await ns.exec([
      "sh",
      "-c",
      `mkdir -p "$1" && setsid -f sh -c 'echo $$ >"$0"; exec "$@"' "$2/prober.pid" sh "$3" "$2/links.tsv" "$1" 1 500 1 >"$2/prober.log" 2>&1 </dev/null && ` +
        `setsid -f sh -c 'echo $$ >"$0"; exec "$@"' "$2/exporter.pid" prometheus-node-exporter --collector.disable-defaults ` +
        `--collector.textfile "--collector.textfile.directory=$1" --web.disable-exporter-metrics "--web.listen-address=$4" >"$2/exporter.log" 2>&1 </dev/null`,
      "sh",
      out,
      dir,
      LINK_PROBER_ASSET,
      EXPORTER,
    ]);
    expect(started.code, started.stderr).toBe(0);
    let samples: string[] = [];
    for (let i = 0; i < 100 && samples.length < LINKS.length; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const scraped = await ns.exec(["curl", "-sf", `http://${EXPORTER}/metrics`]);
      samples = scraped.stdout.split("\n").filter((l) => l.startsWith("probe_success{"));
    }
    expect(samples, await readFile(join(dir, "exporter.log"), "utf8").catch(() => "")).toHaveLength(LINKS.length);
    const served = samples.map((line) => ({
      labels: new Map(labelsOf(line.slice(0, line.lastIndexOf("}") + 1))),
      value: line.slice(line.lastIndexOf(" ") + 1),
    }));
    for (const l of LINKS) {
      const s = served.find((x) => x.labels.get("link") === l.link);
      expect(s, JSON.stringify(l.link)).toBeDefined();
      expect(s?.labels.get("station")).toBe(l.station);
      expect(s?.labels.get("scope")).toBe("link");
      expect(s?.labels.get("stack")).toBe("rehearsal");
      expect(s?.value, l.address).toBe(l.answers ? "1" : "0");
    }
    // The file's age is served too: AmadegiLinkProberStale reads it.
    const all = await ns.exec(["curl", "-sf", `http://${EXPORTER}/metrics`]);
    expect(all.stdout).toMatch(/^node_textfile_mtime_seconds\{file="[^"]*links\.prom"\} /m);
    expect(all.stdout).toMatch(/^node_textfile_scrape_error 0$/m);
    // SIGTERM, as a rehearsal's stop sends it: fping, awk and sleep go with the prober.
    const prober = (await readFile(join(dir, "prober.pid"), "utf8")).trim();
    const exporter = (await readFile(join(dir, "exporter.pid"), "utf8")).trim();
    await ns.exec(["kill", "-TERM", prober, exporter]);
    let left = "x";
    for (let i = 0; i < 50 && left !== ""; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = (await run("ip", ["netns", "pids", ns.name])).stdout.trim();
    }
    expect(left).toBe("");
  });

  it("spreads a round's pings over SPREAD_MS when that is more than INTERVAL_MS apart: three links over 1.8 s go 600 ms apart", async () => {
    const inventory = await sampleInventory();
    const rendered = renderMonitoring(inventory, [LINK_CHECK], LINKS.map(target), { stack: "rehearsal", linkProber: { exporter: EXPORTER } });
    const spread = join(dir, "spread");
    await mkdir(join(spread, "textfiles"), { recursive: true });
    await writeFile(join(spread, "links.tsv"), rendered.files.get(LINK_PROBER_TARGETS) ?? "");
    const began = performance.now();
    const started = await ns.exec([
      "sh",
      "-c",
      `setsid -f sh -c 'echo $$ >"$0"; exec "$@"' "$1/prober.pid" sh "$2" "$1/links.tsv" "$1/textfiles" 60 500 1 1800 >"$1/prober.log" 2>&1 </dev/null`,
      "sh",
      spread,
      LINK_PROBER_ASSET,
    ]);
    expect(started.code, started.stderr).toBe(0);
    let round = "";
    for (let i = 0; i < 200 && round === ""; i++) {
      await new Promise((r) => setTimeout(r, 25));
      round = await readFile(join(spread, "textfiles", "links.prom"), "utf8").catch(() => "");
    }
    const took = performance.now() - began;
    await ns.exec(["kill", "-TERM", (await readFile(join(spread, "prober.pid"), "utf8")).trim()]);
    expect(round.split("\n").filter((l) => l.startsWith("probe_success{"))).toHaveLength(LINKS.length);
    // The third ping leaves 2 × 600 ms after the first, so no round is written sooner (a slower machine only takes longer).
    // Sent 1 ms apart, the round would end with the black-holed address's 500 ms wait.
    expect(took, await readFile(join(spread, "prober.log"), "utf8")).toBeGreaterThanOrEqual(1200);
  });
});
