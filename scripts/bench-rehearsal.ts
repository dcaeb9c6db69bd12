// npm run bench:rehearsal — the whole sample inventory (Pakdasht and Tehran,
// every link) as a rehearsal, every phase timed: rehearsal up → device keys →
// `amadegi up` of a rehearsal stack (the real engine provisions the PKI and
// every server over SSH) → an up with nothing to change → a preview → devices
// start, until every link has checked in once → an `amadegi check` campaign
// from the probing namespace → drift → destroy → rehearsal down. A measurement, not a test: it prints, it asserts
// only that each phase did its job. It uses its own namespaces
// (amadegi-r-bench-*), state directory, Pulumi backend and stack
// (stacks/Pulumi.bench-<pid>.yaml, removed after), so a rehearsal that is
// already up is left alone; every packet stays inside them. Root only.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rehearsalDown, rehearsalUp } from "../src/rehearsal/index.ts";
import { waitForFirstCheckins } from "../src/rehearsal/responders.ts";
import { writeRehearsalStack } from "../src/rehearsal/stackfile.ts";

const REPO = join(import.meta.dirname, "..");
const PREFIX = "amadegi-r-bench-";
const DEADLINE = process.env.BENCH_DEADLINE ?? "120s";
const STACK = `bench-${process.pid}`;
const DEVICE_WAIT_MS = 300_000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `amadegi ...args` to completion; its stdout, and stderr passed through. */
async function amadegi(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(REPO, "bin", "amadegi.js"), ...args], { cwd: REPO, env, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, ms: Date.now() - started };
}

function must(phase: string, ran: { code: number | null; stdout: string }, ok: readonly number[] = [0]): void {
  if (ran.code === null || !ok.includes(ran.code)) throw new Error(`${phase} exited ${ran.code}: ${ran.stdout.slice(-500)}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:rehearsal needs root (network namespaces, nftables, sshd)");
    process.exitCode = 2;
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "amadegi-bench-rehearsal-"));
  const state = join(work, "state");
  const stackFile = join(REPO, "stacks", `Pulumi.${STACK}.yaml`);
  // The bench's own Pulumi backend and passphrase: the project's stacks are never touched.
  const engine = join(work, "engine");
  await mkdir(engine, { recursive: true });
  await writeFile(join(engine, "passphrase"), "bench passphrase\n", { mode: 0o600 });
  const env = { ...process.env, AMADEGI_STATE_DIR: engine, PULUMI_CONFIG_PASSPHRASE_FILE: join(engine, "passphrase") };
  try {
    const total = Date.now();
    const up = await rehearsalUp({ inventory: join(REPO, "inventory"), stateDir: state, prefix: PREFIX });
    if (!up.status.whole) throw new Error(`rehearsal up is not whole: ${up.status.problems.join("; ")}`);
    // The bench's stack stands in for the rehearsal's (the tracked settings, pointed at the bench's rehearsal).
    await writeRehearsalStack({ stacksDir: join(REPO, "stacks"), stack: STACK, stateDir: state, prefix: PREFIX });
    const plan = up.plan;
    const answering = plan.operators.reduce((n, o) => n + o.answering, 0);

    const keys = await amadegi(["rehearsal", "devices", "keys", "--state", state], env);
    must("devices keys", keys);
    const provision = await amadegi(["up", "--stack", STACK, "--yes", "--json"], env);
    must("up", provision);
    const resources = Object.values((JSON.parse(provision.stdout) as { changes: Record<string, number> }).changes).reduce((a, b) => a + b, 0);
    // What a Pulumi user runs most: an up with nothing to change, and a preview (issue 16's figures).
    const again = await amadegi(["up", "--stack", STACK, "--yes", "--json"], env);
    must("up (no change)", again);
    const againChanges = (JSON.parse(again.stdout) as { changes: Record<string, number> }).changes;
    if (Object.keys(againChanges).some((op) => op !== "same")) throw new Error(`a second up changed something: ${JSON.stringify(againChanges)}`);
    const preview = await amadegi(["preview", "--stack", STACK, "--expect-no-changes", "--json"], env);
    must("preview", preview);
    const start = await amadegi(["rehearsal", "devices", "start", "--state", state], env);
    must("devices start", start);
    const waited = Date.now();
    const { links } = await waitForFirstCheckins(state, DEVICE_WAIT_MS);
    const checkinMs = Date.now() - waited;
    const ok = links.filter((l) => l.state === "ok").length;

    const check = await amadegi(["check", "--stack", STACK, "--deadline", DEADLINE, "--out", join(work, "results.jsonl"), "--json"], env);
    must("check", check, [0, 1]);
    const report = JSON.parse(check.stdout) as { targets: number; valid: boolean; summary: { total: Record<string, number> }; elapsedMs: number };
    const drift = await amadegi(["drift", "--stack", STACK, "--results", join(work, "results.jsonl"), "--no-history", "--json"], env);
    must("drift", drift, [0, 1]);
    const counts = (JSON.parse(drift.stdout) as { counts: Record<string, number> }).counts;
    const destroy = await amadegi(["destroy", "--stack", STACK, "--yes"], env);
    must("destroy", destroy);
    const down = await rehearsalDown({ stateDir: state, prefix: PREFIX });
    if (down.leftovers.length > 0) throw new Error(`down left: ${down.leftovers.join("; ")}`);
    const t = report.summary.total;
    console.log(`rehearsal of the sample inventory (${plan.operators.reduce((n, o) => n + o.addresses, 0)} link addresses, ${plan.servers.length} servers)`);
    console.log(
      `  built: ${plan.namespaces.length} namespaces, ${plan.veths.length} veth links, ${plan.servers.length} sshd, ${answering} answering link addresses, ` +
        `${plan.operators.reduce((n, o) => n + o.blind.length, 0)} blind, ${plan.operators.reduce((n, o) => n + o.weak.length, 0)} weak`,
    );
    console.log(`  rehearsal up:   ${seconds(up.elapsedMs)}`);
    console.log(`  device keys:    ${seconds(keys.ms)}`);
    console.log(
      `  stack up:       ${seconds(provision.ms)} (${resources} resources: PKI, ${plan.servers.length} servers' roles over SSH, device certificates)`,
    );
    console.log(`  up, no change:  ${seconds(again.ms)}`);
    console.log(`  preview:        ${seconds(preview.ms)} (no changes expected and none found)`);
    console.log(
      `  devices start:  ${seconds(start.ms)}; first check-in over every link: ${seconds(checkinMs)} ` +
        `(${links.length} links: ${ok} ok, ${links.length - ok} not)`,
    );
    console.log(
      `  check:          ${seconds(check.ms)} (campaign ${seconds(report.elapsedMs)}, ${report.targets} targets, ` +
        `${report.valid ? "valid" : "INVALID"}, exit ${check.code}: ` +
        `up ${t.up} · degraded ${t.degraded} · down ${t.down} · unreachable ${t.unreachable} · unknown ${t.unknown})`,
    );
    console.log(
      `  drift:          ${seconds(drift.ms)} (exit ${drift.code}: ${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(" · ")})`,
    );
    console.log(`  destroy:        ${seconds(destroy.ms)}`);
    console.log(`  rehearsal down: ${seconds(down.elapsedMs)} (${down.namespaces.length} namespaces, ${down.processes} processes)`);
    console.log(`  total:          ${seconds(Date.now() - total)} (goal: up, probed and down within 5 min)`);
  } finally {
    await rehearsalDown({ stateDir: state, prefix: PREFIX }).catch(() => undefined);
    await rm(stackFile, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

await main();
