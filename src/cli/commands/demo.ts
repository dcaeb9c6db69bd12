import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { logText } from "../../lib/encode.ts";
import { ExitCode } from "../../lib/exit.ts";
import { lineStream, Progress, type ProgressOptions, spokenDuration } from "../../lib/progress.ts";
import { readResults } from "../../probe/results.ts";
import { waitForFirstCheckins } from "../../rehearsal/responders.ts";
import { repoRoot, statePaths } from "../../toolchain/paths.ts";
import { defineCommand, type Io } from "../command.ts";

/**
 * The one-command demo (the README's main command after setup): the sample
 * inventory's whole network in the rehearsal, provisioned by the real stack,
 * devices checking in, probed, gated, drift-checked and reported. Each stage is
 * the real `amadegi` command in its own process (exactly what a person would
 * type), its output kept in a log beside the report. Here, a line as each stage
 * starts, one every 30 s while it runs (with the last line it printed) and one
 * when it ends, with its time. It leaves the rehearsal running and says how to
 * stop it.
 */
interface Stage {
  readonly title: string;
  readonly argv: readonly string[];
  /** Exit codes that let the demo go on (a verdict of "not ready" is an answer, not a failure). */
  readonly goOn: readonly number[];
  /** A campaign that writes this results file: invalidated by a starved prober, it is run again. */
  readonly campaign?: string;
}

const DEVICE_WAIT_MS = 150_000;
/** A campaign the self-watch invalidated is run again at most this many times (issue 12). */
const CAMPAIGN_RETRIES = 2;

/** Why the campaign in `file` was invalid, if it ran to its end and was (not when it could not run at all). */
async function invalidation(file: string): Promise<readonly string[] | undefined> {
  try {
    const { footer } = await readResults(file);
    return footer !== undefined && !footer.valid && !footer.interrupted ? footer.invalid : undefined;
  } catch {
    return undefined;
  }
}

/** How a stage ended: its exit code and the last line it printed. */
export interface StageRun {
  readonly code: number;
  readonly last: string;
}

/** The stage as the demo's lines name it: `stage 3/9`, `stage 6/9 again`. */
export interface StageName {
  readonly index: number;
  readonly count: number;
  readonly title: string;
  /** A campaign run again (rerunInvalidCampaign). */
  readonly again?: boolean;
}

/**
 * Run a stage, saying so as it starts (`demo: stage 3/9: …`), every 30 s while
 * it runs (for how long, and the last line it printed: a campaign's progress,
 * the engine's latest step), and when it ends, with its time and exit code.
 * `run` reports each line the stage prints through `seen`.
 */
export async function announcedStage(
  stage: StageName,
  run: (seen: (line: string) => void) => Promise<StageRun>,
  io: Pick<Io, "out">,
  options: ProgressOptions = {},
): Promise<StageRun> {
  const now = options.now ?? (() => performance.now());
  const name = `stage ${stage.index + 1}/${stage.count}${stage.again === true ? " again" : ""}`;
  const tail = (line: string) => (line === "" ? "" : ` — ${logText(line.slice(0, 160))}`);
  let last = "";
  io.out(`demo: ${name}: ${stage.title}`);
  const at = now();
  const progress = new Progress(lineStream(io.out), `demo: ${name}`, ({ elapsedMs }) => `running for ${spokenDuration(elapsedMs)}${tail(last)}`, options);
  progress.start();
  try {
    const ran = await run((line) => (last = line));
    io.out(`demo: ${name} finished in ${spokenDuration(now() - at)}, exit ${ran.code}${tail(ran.last)}`);
    return ran;
  } finally {
    progress.stop();
  }
}

/** Run `amadegi ...argv` to completion, its output to `log`, each line it prints to `seen`; the exit code and the last line it printed. */
function runStage(argv: readonly string[], log: string, io: Io, seen: (line: string) => void = () => {}): Promise<StageRun> {
  return new Promise((resolve) => {
    const out = createWriteStream(log);
    const child = spawn(process.execPath, [join(repoRoot, "bin", "amadegi.js"), ...argv], { cwd: io.cwd, env: io.env, stdio: ["ignore", "pipe", "pipe"] });
    let last = "";
    const keep = (chunk: Buffer) => {
      out.write(chunk);
      const lines = chunk
        .toString()
        .split("\n")
        .filter((l) => l.trim() !== "");
      if (lines.length > 0) {
        last = lines[lines.length - 1] ?? last;
        seen(last);
      }
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (error) => {
      out.end();
      resolve({ code: ExitCode.CANNOT_RUN, last: error.message });
    });
    child.on("close", (code) => out.end(() => resolve({ code: code ?? ExitCode.CANNOT_RUN, last })));
  });
}

/** Wait until every device link with a certificate has tried a check-in (or the time is up). */
async function waitForDevices(state: string): Promise<string> {
  const { links, complete } = await waitForFirstCheckins(state, DEVICE_WAIT_MS);
  const count = (s: string) => links.filter((l) => l.state === s).length;
  const summary = `${links.length} links: ${count("ok")} checked in, ${count("failing")} failing, ${count("pending")} not tried yet`;
  return complete ? summary : `${summary} (stopped waiting after ${spokenDuration(DEVICE_WAIT_MS)})`;
}

/**
 * A busy machine can starve the prober: its campaign is then invalid (exit 2),
 * which says nothing about the network. Such a campaign is run again, saying
 * why, at most CAMPAIGN_RETRIES times; if the last is invalid too, the reasons
 * of every run are named. A campaign that could not run at all (no footer) or
 * was interrupted is not run again.
 */
export async function rerunInvalidCampaign(
  first: { code: number; last: string },
  results: string,
  rerun: (retry: number) => Promise<{ code: number; last: string }>,
  io: Pick<Io, "out" | "err">,
): Promise<{ code: number; last: string }> {
  let run = first;
  const invalidations: string[] = [];
  for (let retry = 1; run.code === ExitCode.CANNOT_RUN; retry++) {
    const why = await invalidation(results);
    if (why === undefined) break;
    invalidations.push(`run ${retry}: ${why.join("; ")}`);
    if (retry > CAMPAIGN_RETRIES) {
      io.err(`demo: every campaign was invalid, so there is no verdict to give; the machine is too busy to probe from:\n  ${invalidations.join("\n  ")}`);
      break;
    }
    io.out(`      the campaign was invalid (${why.join("; ")}): running it again (${retry} of ${CAMPAIGN_RETRIES})`);
    run = await rerun(retry);
  }
  return run;
}

export const demo = defineCommand({
  name: "demo",
  synopsis: "amadegi demo [--out DIR]",
  before: [
    "The whole pipeline on the sample inventory, in the rehearsal (root; after scripts/setup):",
    "validate → rehearsal up → device keys → up (stack rehearsal) → devices start → check →",
    "gate → drift → report. Says when each stage starts, every 30 s while it runs and when it",
    "ends, with its time; ends with the verdict and the path of report.html, and leaves the",
    "rehearsal running (amadegi rehearsal down stops it).",
  ],
  options: { out: { type: "string", placeholder: "DIR", default: join("reports", "demo"), description: "where the results, stage logs and report go" } },
  after: "Exit: the gate's verdict (0 ready, 1 not ready); 2 a stage could not run (named, with its log).",
  async run(args, io) {
    const out = join(io.cwd, args.values.out);
    const logs = join(out, "logs");
    await mkdir(logs, { recursive: true });
    const results = join(out, "results.jsonl");
    const state = statePaths(io.env).rehearsal.dir;
    const stages: Stage[] = [
      { title: "validate the inventory", argv: ["validate"], goOn: [0] },
      { title: "rehearsal up (namespaces, links, a sshd per server)", argv: ["rehearsal", "up"], goOn: [0] },
      { title: "devices make their keys and certificate requests", argv: ["rehearsal", "devices", "keys"], goOn: [0] },
      {
        title: "up: the rehearsal stack provisions the servers (PKI, nginx, unbound, chrony, Prometheus)",
        argv: ["up", "--stack", "rehearsal", "--yes"],
        goOn: [0],
      },
      { title: "devices start checking in over each link", argv: ["rehearsal", "devices", "start"], goOn: [0] },
      { title: "check: one campaign over every endpoint and path", argv: ["check", "--stack", "rehearsal", "--out", results], goOn: [0, 1], campaign: results },
      { title: "gate: the milestone in force", argv: ["gate", "--results", results], goOn: [0, 1, 2] },
      { title: "drift: declared ↔ provisioned ↔ observed", argv: ["drift", "--stack", "rehearsal", "--results", results], goOn: [0, 1] },
      { title: "report (Persian and English)", argv: ["report", "--results", results, "--out", out], goOn: [0, 1, 2] },
    ];
    const started = performance.now();
    let verdict: number = ExitCode.CANNOT_RUN;
    let gateLine = "";
    for (const [i, stage] of stages.entries()) {
      const name = stage.argv.slice(0, 2).join("-");
      const log = join(logs, `${i + 1}-${name}.log`);
      const which = { index: i, count: stages.length, title: stage.title };
      const first = await announcedStage(which, (seen) => runStage(stage.argv, log, io, seen), io);
      const { code, last } =
        stage.campaign === undefined
          ? first
          : await rerunInvalidCampaign(
              first,
              stage.campaign,
              (retry) => announcedStage({ ...which, again: true }, (seen) => runStage(stage.argv, log.replace(/\.log$/, `-retry${retry}.log`), io, seen), io),
              io,
            );
      if (!stage.goOn.includes(code)) {
        io.err(`demo: stage ${i + 1} (amadegi ${stage.argv.join(" ")}) could not run (exit ${code}); its output: ${relative(io.cwd, log)}`);
        return ExitCode.CANNOT_RUN;
      }
      if (stage.argv[0] === "gate") {
        verdict = code;
        gateLine = last;
      }
      if (stage.argv[0] === "rehearsal" && stage.argv[2] === "start") {
        const waited = performance.now();
        io.out(`demo: waiting for the devices' first check-ins (at most ${spokenDuration(DEVICE_WAIT_MS)})`);
        io.out(`      the devices' first check-ins: ${await waitForDevices(state)} (${spokenDuration(performance.now() - waited)})`);
      }
    }
    const words = verdict === ExitCode.OK ? "READY" : verdict === ExitCode.FINDINGS ? "NOT READY" : "COULD NOT JUDGE";
    io.out("");
    io.out(`verdict: ${words} — ${gateLine}`);
    io.out(`report: ${join(out, "report.html")} (and summary.md, junit.xml, results.json); stage logs in ${logs}`);
    io.out(
      `all stages: ${spokenDuration(performance.now() - started)}. The rehearsal is still running: amadegi rehearsal status; ` +
        `stop it with amadegi rehearsal devices stop && amadegi destroy --stack rehearsal --yes && amadegi rehearsal down`,
    );
    return verdict === ExitCode.OK ? ExitCode.OK : verdict === ExitCode.FINDINGS ? ExitCode.FINDINGS : ExitCode.CANNOT_RUN;
  },
});
