#!/usr/bin/env node
// The `amadegi` command. Node 24 runs the TypeScript sources directly
// (type stripping), so there is no build step between a change and a run.
// Node's compile cache keeps each module's stripped and compiled code in the
// state directory (<state>/cache/compile, the owner's alone), checked against
// each source's content: a command starts about 0.2 s sooner (issue 20). A
// cache that cannot be made costs that time, never the command.
import { mkdirSync } from "node:fs";
import { enableCompileCache } from "node:module";

const { statePaths } = await import("../src/lib/state.ts");
try {
  const dir = statePaths().compileCache;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  enableCompileCache(dir);
} catch {
  // Read-only or missing state: run without the cache.
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
