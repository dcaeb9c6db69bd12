import { defineConfig } from "vitest/config";

// One run, two reporters: the console for people, and a JSON report that
// .ci/run turns into the plain "N passed, N failed" line CI reads.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "json"],
    outputFile: { json: "reports/vitest.json" },
    // Integration tests start real programs (the Pulumi engine, sshd, nginx);
    // each sets its own timeout, this is the ceiling for the rest.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
