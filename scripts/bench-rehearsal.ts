// npm run bench:rehearsal — the whole sample inventory (Pakdasht and Tehran,
// every link) as a rehearsal: up → an `amadegi check` campaign from the
// probing namespace (the real CLI, re-running itself there) → down, with the
// time of each phase. A measurement, not a test: it prints, it asserts only
// that each phase did its job. It uses its own namespaces (amadegi-r-bench-*)
// and state directory, so a rehearsal that is already up is left alone; every
// packet stays inside them. Root only.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rehearsalDown, rehearsalUp } from "../src/rehearsal/index.ts";

const REPO = join(import.meta.dirname, "..");
const PREFIX = "amadegi-r-bench-";
const DEADLINE = process.env.BENCH_DEADLINE ?? "120s";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function campaign(stacks: string, out: string): Promise<{ code: number | null; report: { targets: number; summary: { total: Record<string, number> }; elapsedMs: number } }> {
  const child = spawn(process.execPath, [join(REPO, "bin", "amadegi.js"), "check", "--stacks", stacks, "--stack", "rehearsal", "--inventory", join(REPO, "inventory"), "--checks", join(REPO, "checks"), "--deadline", DEADLINE, "--out", out, "--json"], { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.on("data", (c: Buffer) => (text += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, report: JSON.parse(text) as { targets: number; summary: { total: Record<string, number> }; elapsedMs: number } };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:rehearsal needs root (network namespaces, nftables, sshd)");
    process.exitCode = 2;
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "amadegi-bench-rehearsal-"));
  const state = join(work, "state");
  try {
    const stacks = join(work, "stacks");
    await mkdir(stacks);
    const settings = (await readFile(join(REPO, "stacks", "Pulumi.rehearsal.yaml"), "utf8"))
      .replace("netns: amadegi-r-probe", `netns: ${PREFIX}probe`)
      .replace("pins: .amadegi/rehearsal/pins.yaml", `pins: ${join(state, "pins.yaml")}`);
    if (!settings.includes(`netns: ${PREFIX}probe`)) throw new Error("stacks/Pulumi.rehearsal.yaml has no amadegi:probe.netns: amadegi-r-probe to point at the bench's namespace");
    if (!settings.includes(`pins: ${join(state, "pins.yaml")}`)) throw new Error("stacks/Pulumi.rehearsal.yaml has no amadegi:probe.pins: .amadegi/rehearsal/pins.yaml to point at the bench's overlay");
    await writeFile(join(stacks, "Pulumi.rehearsal.yaml"), settings);
    const total = Date.now();
    const up = await rehearsalUp({ inventory: join(REPO, "inventory"), stateDir: state, prefix: PREFIX });
    if (!up.status.whole) throw new Error(`rehearsal up is not whole: ${up.status.problems.join("; ")}`);
    const plan = up.plan;
    const answering = plan.operators.reduce((n, o) => n + o.answering, 0);
    const probed = Date.now();
    const { code, report } = await campaign(stacks, join(work, "results.jsonl"));
    const probeMs = Date.now() - probed;
    const down = await rehearsalDown({ stateDir: state, prefix: PREFIX });
    if (down.leftovers.length > 0) throw new Error(`down left: ${down.leftovers.join("; ")}`);
    const t = report.summary.total;
    console.log(`rehearsal of the sample inventory (${plan.operators.reduce((n, o) => n + o.addresses, 0)} link addresses, ${plan.servers.length} servers)`);
    console.log(`  built: ${plan.namespaces.length} namespaces, ${plan.veths.length} veth links, ${plan.servers.length} sshd, ${answering} answering link addresses, ${plan.operators.reduce((n, o) => n + o.blind.length, 0)} blind, ${plan.operators.reduce((n, o) => n + o.weak.length, 0)} weak`);
    console.log(`  up:     ${seconds(up.elapsedMs)}`);
    console.log(`  check:  ${seconds(probeMs)} (campaign ${seconds(report.elapsedMs)}, ${report.targets} targets, exit ${code}: up ${t.up} · degraded ${t.degraded} · down ${t.down} · unreachable ${t.unreachable} · unknown ${t.unknown})`);
    console.log(`  down:   ${seconds(down.elapsedMs)} (${down.namespaces.length} namespaces, ${down.processes} processes)`);
    console.log(`  total:  ${seconds(Date.now() - total)}`);
  } finally {
    await rehearsalDown({ stateDir: state, prefix: PREFIX }).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
