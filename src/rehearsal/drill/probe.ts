import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../../lib/errors.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import type { CampaignReport } from "../../probe/campaign/index.ts";
import type { CheckinCursor } from "../../probe/probes/checkin.ts";
import type { CheckOptions } from "../../probe/run.ts";

/**
 * A drill looks at the network only as the pipeline does and only from where
 * it does: this runs probe-child.ts inside the rehearsal's probing namespace
 * (`ip netns exec`), which runs a campaign through `check` and reads the
 * gateways' check-in logs, and hands back its answer.
 */
export const PROBE_CHILD = join(import.meta.dirname, "probe-child.ts");

/** One check-in as a gateway recorded it: the link by the source address where the gateway knew it. */
export interface CheckinLine {
  readonly time: string;
  readonly station: string;
  readonly link: string;
  readonly gateway: string;
}

export interface GatewayLog {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly hostKey: string;
  /** The log's path on the server (the rehearsal: under the server's root). */
  readonly log: string;
}

export interface ProbeRequest {
  readonly version: 1;
  /** The namespace the child must find itself in. */
  readonly netns: string;
  readonly campaign?: Pick<CheckOptions, "stack" | "stacksDir" | "inventory" | "checks" | "select" | "deadlineMs" | "out">;
  readonly checkins?: {
    readonly allow: readonly string[];
    readonly identityFile: string;
    readonly gateways: readonly GatewayLog[];
    readonly cursors: Readonly<Record<string, CheckinCursor>>;
    /** Keep records from this time on (none: only advance the cursors). */
    readonly since?: string;
  };
  readonly answer: string;
}

export interface ProbeAnswer {
  campaign?: { readonly report: CampaignReport; readonly targets: number };
  checkins?: { readonly cursors: Record<string, CheckinCursor>; readonly records: readonly CheckinLine[]; readonly failures: readonly string[] };
  error?: string;
}

/** Run the child in `netns`; resolves with its answer, or throws naming what went wrong. */
export async function probeFrom(
  netns: string,
  request: Omit<ProbeRequest, "version" | "netns" | "answer">,
  dir: string,
  name: string,
  timeoutMs: number,
): Promise<ProbeAnswer> {
  const requestFile = join(dir, `${name}.request.json`);
  const answerFile = join(dir, `${name}.answer.json`);
  await rm(answerFile, { force: true });
  await writeFileAtomic(requestFile, `${JSON.stringify({ version: 1, netns, answer: answerFile, ...request })}\n`, 0o600);
  const child = spawn("ip", ["netns", "exec", netns, process.execPath, PROBE_CHILD, requestFile], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(null));
    child.on("close", (c) => resolve(c));
  });
  clearTimeout(timer);
  await rm(requestFile, { force: true });
  if (code !== 0 || !existsSync(answerFile)) {
    throw new ToolError(`the drill's ${name} probes in namespace ${netns} failed (exit ${code ?? "?"}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`, {
      hint: "run `amadegi rehearsal status`; the rehearsal must be up",
    });
  }
  const answer = JSON.parse(readFileSync(answerFile, "utf8")) as ProbeAnswer;
  await rm(answerFile, { force: true });
  if (answer.error !== undefined)
    throw new ToolError(`the drill's ${name} campaign: ${answer.error}`, { hint: "fix what it names; `amadegi check --stack <stack>` shows the same" });
  return answer;
}
