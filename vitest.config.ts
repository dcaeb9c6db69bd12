import { defineConfig } from "vitest/config";

/**
 * The files that build a rehearsal, run the Pulumi engine or a drill, or load
 * the CPU on purpose. They run one at a time, after the rest (issue 12): two
 * of them at once on a two-core machine starve each other's probers, daemons
 * and engines, and a test that passes only on a quiet machine is broken. A new
 * file of that kind goes here.
 */
export const HEAVY = [
  "test/ci/readiness-rehearsal.test.ts",
  "test/ci/scale.test.ts",
  "test/provision/program.rehearsal.test.ts",
  "test/provision/migrate.rehearsal.test.ts",
  "test/provision/revocation.rehearsal.test.ts",
  "test/provision/workspace.test.ts",
  "test/provision/main.test.ts",
  "test/toolchain/langhost.test.ts",
  "test/toolchain/commandprovider/index.test.ts",
  "test/toolchain/commandprovider/remote.test.ts",
  "test/toolchain/commandprovider/install.test.ts",
  "test/cli/commands/stack.test.ts",
  "test/cli/commands/demo.state.test.ts",
  "test/rehearsal/drill.test.ts",
  "test/rehearsal/drill/notifications.live.test.ts",
  "test/rehearsal/responders.test.ts",
  "test/rehearsal/index.test.ts",
  "test/probe/campaign.starvation.test.ts",
  "test/readiness/report/map.national.test.ts",
];

// One run, two reporters: the console for people, and a JSON report that
// .ci/run turns into the plain "N passed, N failed" line CI reads. Two
// projects: `unit` (everything else, files in parallel) runs first, then
// `heavy` (the files above, one at a time): groups run in `groupOrder`.
export default defineConfig({
  test: {
    reporters: ["default", "json"],
    outputFile: { json: "reports/vitest.json" },
    // Integration tests start real programs (the Pulumi engine, sshd, nginx);
    // each sets its own timeout, this is the ceiling for the rest.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: HEAVY, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "heavy", include: HEAVY, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
