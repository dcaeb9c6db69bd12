import { ExitCode } from "../../lib/exit.ts";
import { toolCatalog } from "../../toolchain/catalog.ts";
import { type DoctorReport, runDoctor } from "../../toolchain/doctor.ts";
import { defineCommand } from "../command.ts";

export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = ["Tools:"];
  for (const t of report.tools) {
    const mark = t.ok ? "ok  " : "MISS";
    // A tool a stand-in may replace says whose it is: "Pulumi's 3.276.0", "amadegi's stand-in …".
    const version = t.identity !== undefined ? `: ${t.identity}` : t.version === undefined ? "" : ` ${t.version}`;
    lines.push(`  ${mark} ${t.name}${version}${t.path === undefined ? "" : `  ${t.path}`}`);
    if (t.sha256 !== undefined) lines.push(`       sha256 ${t.sha256}`);
    if (t.build !== undefined) lines.push(`       built by ${t.build.go} from ${t.build.mod} (${t.build.path})`);
    if (t.problem !== undefined) lines.push(`       ${t.problem}; needed by: ${t.needs.join(", ")}`);
  }
  const node = report.previewNode;
  lines.push(
    "",
    `Node for a plain \`pulumi preview\`: ${node.path === undefined ? "none on PATH" : `${node.path} → ${node.realpath ?? "?"} (v${node.version ?? "?"})`}`,
  );
  lines.push(`State backend: ${report.backend.url} (${report.backend.kind})`);
  for (const w of report.backend.warnings) lines.push(`  warning: ${w}`);
  lines.push(`Root: ${report.root ? "yes" : "no"}; network namespaces: ${report.netns.detail}`);
  if (report.strayDaemons.length > 0) {
    lines.push("Stray system daemons (started by a package install, they hold the ports the project's own use):");
    for (const d of report.strayDaemons) lines.push(`  pid ${d.pid} ${d.name}: ${d.cmdline}`);
  }
  for (const name of report.notNeeded) lines.push(`Not here, and not needed: ${name} — ${toolCatalog.find((t) => t.name === name)?.optional ?? ""}`);
  lines.push("", report.ok ? "doctor: everything amadegi needs is here" : `doctor: missing or wrong: ${report.missing.join(", ")}`);
  return lines.join("\n");
}

export const doctor = defineCommand({
  name: "doctor",
  synopsis: "amadegi doctor [--json]",
  before: [
    "For each tool: its path, the version it prints, its sha256 and, for the",
    "Go-built ones, the module and version it was built from; which Node a plain",
    "`pulumi preview` runs; the state backend; root and network-namespace capability;",
    "system daemons left running by package installs.",
  ],
  options: { json: { type: "boolean", description: "the same report as JSON" } },
  after: "Exit: 0 everything is here, 1 something is missing or of the wrong version, 2 could not run.",
  async run(args, io) {
    const report = await runDoctor(io.env);
    io.out(args.values.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
    return report.ok ? ExitCode.OK : ExitCode.FINDINGS;
  },
});
