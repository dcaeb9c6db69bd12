import type { CommandEntry } from "../command.ts";

/**
 * Every command of the CLI, in the order `amadegi --help` lists them. Each
 * module is imported only when its command runs (see CommandEntry).
 */
export const commands: readonly CommandEntry[] = [
  {
    name: "demo",
    summary: "the whole pipeline on the sample, in the rehearsal: up, devices, check, gate, drift, report (root)",
    load: async () => (await import("./demo.ts")).demo,
  },
  {
    name: "doctor",
    summary: "check the tools amadegi relies on (path, version, sha256, Go build info)",
    load: async () => (await import("./doctor.ts")).doctor,
  },
  {
    name: "validate",
    summary: "check the inventory: schema, references, redundancy, capacity, lifecycle, security",
    load: async () => (await import("./validate.ts")).validate,
  },
  {
    name: "generate",
    summary: "write a synthetic national inventory (deterministic for a seed), for scale tests",
    load: async () => (await import("./generate.ts")).generate,
  },
  {
    name: "preview",
    summary: "preview a stack's changes through the Pulumi engine (the program of Pulumi.yaml)",
    load: async () => (await import("./stack.ts")).preview,
  },
  { name: "up", summary: "provision a stack (Pulumi up through the Automation API)", load: async () => (await import("./stack.ts")).up },
  { name: "destroy", summary: "remove everything a stack provisioned", load: async () => (await import("./stack.ts")).destroy },
  {
    name: "check",
    summary: "run a probe campaign to a deadline: every endpoint, every path, a verdict",
    load: async () => (await import("./check.ts")).checkCommand,
  },
  {
    name: "drift",
    summary: "compare declared, provisioned and observed (files, listeners, versions over SSH; the latest campaign) per server and link",
    load: async () => (await import("./drift.ts")).drift,
  },
  {
    name: "gate",
    summary: "judge a readiness milestone: ready (0), not ready (1), could not judge (2)",
    load: async () => (await import("./gate.ts")).gateCommand,
  },
  {
    name: "devices",
    summary: "revoke a device (the committee's signed decision) and publish the CRL to every gateway",
    load: async () => (await import("./devices.ts")).devicesCommand,
  },
  {
    name: "approve",
    summary: "write the exact sign-off manifest a committee member signs for a milestone",
    load: async () => (await import("./approve.ts")).approve,
  },
  {
    name: "report",
    summary: "write the readiness report: report.html (Persian-first), summary.md, junit.xml, results.json",
    load: async () => (await import("./report.ts")).report,
  },
  {
    name: "merge",
    summary: "merge shard results (one campaign per province or district) into one campaign file",
    load: async () => (await import("./merge.ts")).merge,
  },
  {
    name: "export",
    summary: "hand over to monitoring: Prometheus file_sd targets and blackbox modules, or a campaign as OpenMetrics",
    load: async () => (await import("./export.ts")).exportCommand,
  },
  {
    name: "publish",
    summary: "in a GitHub Actions job: add a report to the job summary, or tag a signed-off milestone",
    load: async () => (await import("./publish.ts")).publish,
  },
  {
    name: "rehearsal",
    summary: "the election network in miniature on this machine: namespaces, operators' links, sshd per server (root)",
    load: async () => (await import("./rehearsal.ts")).rehearsalCommand,
  },
  {
    name: "drill",
    summary: "inject a fault into the rehearsal, run the campaign, report what was detected and attributed, restore (root)",
    load: async () => (await import("./drill.ts")).drillCommand,
  },
];
