// `node probe-child.ts REQUEST.json`, run by a drill under `ip netns exec
// <the rehearsal's probing namespace>`: the drill's view of the network is the
// pipeline's own — a campaign through the real `check` path (src/probe/run.ts)
// and the gateways' check-in logs read with the check-in reader — and it is
// taken from where campaigns run, never from the machine's own namespace. It
// refuses to run anywhere else. Its answer is a JSON file (probe.ts).
import { readFileSync } from "node:fs";
import { formatFinding } from "../../model/index.ts";
import { parseAllow } from "../../probe/allow.ts";
import { checkinLogReader, type CheckinCursor } from "../../probe/probes/checkin.ts";
import { check } from "../../probe/run.ts";
import type { Target } from "../../probe/types.ts";
import { writeFileAtomic } from "../../lib/fs.ts";
import { inNetns } from "../../toolchain/netns.ts";
import type { CheckinLine, ProbeAnswer, ProbeRequest } from "./probe.ts";

/** Reads of one gateway's log per call at most (8 MiB each): a log that long is read over several drills. */
const MAX_READS = 16;

async function readCheckins(request: NonNullable<ProbeRequest["checkins"]>): Promise<NonNullable<ProbeAnswer["checkins"]>> {
  const reader = checkinLogReader({ allow: parseAllow(request.allow, "the drill's check-in reads"), ssh: { identityFile: request.identityFile } });
  const cursors: Record<string, CheckinCursor> = { ...request.cursors };
  const records: CheckinLine[] = [];
  const failures: string[] = [];
  const since = request.since === undefined ? undefined : Date.parse(request.since);
  await Promise.all(
    request.gateways.map(async (g) => {
      const target: Target = {
        key: `drill-checkins/${g.id}`,
        check: "drill-checkins",
        kind: "checkin",
        server: g.id,
        address: g.address,
        port: g.port,
        params: { hostKey: g.hostKey, user: g.user, log: g.log },
      };
      for (let i = 0; i < MAX_READS; i++) {
        const batch = await reader.read(target, cursors[g.id], { signal: AbortSignal.timeout(20_000), timeoutMs: 10_000 });
        if (!batch.observation.ok) {
          failures.push(batch.observation.detail ?? `gateway ${g.id}: ${batch.observation.failure ?? "failed"}`);
          return;
        }
        if (batch.cursor !== undefined) cursors[g.id] = batch.cursor;
        if (since !== undefined) {
          for (const r of batch.records) {
            if (Date.parse(r.time) >= since) records.push({ time: r.time, station: r.station, link: r.sourceLink ?? r.link, gateway: r.gateway });
          }
        }
        if (batch.observation.values.CHECKIN_MORE !== true) return;
      }
    }),
  );
  records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return { cursors, records, failures };
}

async function main(file: string): Promise<void> {
  const request = JSON.parse(readFileSync(file, "utf8")) as ProbeRequest;
  if (request.version !== 1) throw new Error(`${file}: not a drill probe request (version 1)`);
  // Network safety: the drill's packets leave from the rehearsal's probing namespace or not at all.
  if (!inNetns(request.netns)) throw new Error(`the drill's probes run only inside namespace ${request.netns}; this process is not in it: nothing was sent`);
  const answer: ProbeAnswer = {};
  if (request.campaign !== undefined) {
    try {
      const outcome = await check(request.campaign);
      if (outcome.ran) answer.campaign = { report: outcome.report, targets: outcome.targets };
      else answer.error = `the campaign could not run:\n${outcome.findings.slice(0, 10).map(formatFinding).join("\n")}`;
    } catch (error) {
      answer.error = `the campaign could not run: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (request.checkins !== undefined) answer.checkins = await readCheckins(request.checkins);
  await writeFileAtomic(request.answer, `${JSON.stringify(answer)}\n`, 0o600);
}

const requestFile = process.argv[2];
if (import.meta.filename === process.argv[1] && requestFile !== undefined) {
  main(requestFile).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}
