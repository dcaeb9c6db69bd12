// Where the state lives: every location by name, all under one directory that
// AMADEGI_STATE_DIR moves; and the one way "the newest results" are found.
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inState, newestResults, rehearsalPaths, repoRoot, stateDir, statePaths } from "../../src/lib/state.ts";
import * as toolchain from "../../src/toolchain/paths.ts";

/** Every path of a StatePaths, by its name (rehearsal.* nested). */
function leaves(value: object, prefix = ""): [string, string][] {
  return Object.entries(value).flatMap(([k, v]): [string, string][] =>
    typeof v === "string" ? [[`${prefix}${k}`, v]] : leaves(v as object, `${prefix}${k}.`),
  );
}

describe("statePaths", () => {
  it("names every location under the state directory, each its own", () => {
    const paths = statePaths({ AMADEGI_STATE_DIR: "/srv/state" });
    const all = leaves(paths);
    expect(all.map(([name]) => name).sort()).toEqual(
      [
        "approvals",
        "assets",
        "cache",
        "compileCache",
        "drift",
        "envScript",
        "history",
        "operations",
        "passphrase",
        "pulumi",
        "rehearsal.ca",
        "rehearsal.devices",
        "rehearsal.dir",
        "rehearsal.issued",
        "rehearsal.keys",
        "rehearsal.pins",
        "results",
        "revocations",
        "root",
      ].sort(),
    );
    for (const [name, path] of all) {
      if (name === "root") expect(path).toBe("/srv/state");
      else expect(relative("/srv/state", path).startsWith(".."), `${name}: ${path}`).toBe(false);
    }
    // No two names for one place.
    expect(new Set(all.map(([, p]) => p)).size).toBe(all.length);
    expect(paths).toMatchObject({
      results: "/srv/state/results",
      approvals: "/srv/state/approvals",
      revocations: "/srv/state/revocations",
      history: "/srv/state/history.sqlite",
      cache: "/srv/state/cache",
      compileCache: "/srv/state/cache/compile",
      drift: "/srv/state/drift",
      pulumi: "/srv/state/pulumi",
      operations: "/srv/state/operations",
      passphrase: "/srv/state/passphrase",
      envScript: "/srv/state/env.sh",
      rehearsal: {
        dir: "/srv/state/rehearsal",
        pins: "/srv/state/rehearsal/pins.yaml",
        ca: "/srv/state/rehearsal/ca.crt",
        devices: "/srv/state/rehearsal/devices",
        issued: "/srv/state/rehearsal/devices/issued",
        keys: "/srv/state/rehearsal/devices/keys.yaml",
      },
    });
  });

  it("defaults to .amadegi at the repository root, whatever the working directory; an empty AMADEGI_STATE_DIR counts as unset", () => {
    expect(stateDir({})).toBe(join(repoRoot, ".amadegi"));
    expect(stateDir({ AMADEGI_STATE_DIR: "" })).toBe(join(repoRoot, ".amadegi"));
    expect(statePaths({}).results).toBe(join(repoRoot, ".amadegi", "results"));
  });

  it("AMADEGI_STATE_DIR moves all of it; a relative one is absolute from the working directory", () => {
    expect(leaves(statePaths({ AMADEGI_STATE_DIR: "/elsewhere" })).every(([, p]) => p.startsWith("/elsewhere"))).toBe(true);
    expect(stateDir({ AMADEGI_STATE_DIR: "rel/state" })).toBe(join(process.cwd(), "rel", "state"));
  });

  it("the toolchain's names are the same functions (one home)", () => {
    expect(toolchain.stateDir).toBe(stateDir);
    expect(toolchain.statePaths).toBe(statePaths);
    expect(toolchain.repoRoot).toBe(repoRoot);
  });

  it("a rehearsal kept elsewhere has the same layout; a stack setting's path is read from the state directory unless absolute", () => {
    expect(rehearsalPaths("/r")).toEqual({
      dir: "/r",
      pins: "/r/pins.yaml",
      ca: "/r/ca.crt",
      devices: "/r/devices",
      issued: "/r/devices/issued",
      keys: "/r/devices/keys.yaml",
    });
    expect(inState("rehearsal/pins.yaml", "/s")).toBe("/s/rehearsal/pins.yaml");
    expect(inState("/etc/pins.yaml", "/s")).toBe("/etc/pins.yaml");
  });
});

describe("newestResults", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-newest-"));
    const at = (minutes: number) => new Date(Date.UTC(2027, 1, 1, 0, minutes));
    for (const [name, minutes] of [
      ["rehearsal-1.jsonl", 1],
      ["rehearsal-2.jsonl", 3],
      ["production-1.jsonl", 5],
      ["rehearsal-w1-1.jsonl", 4],
      ["notes.txt", 9],
      ["tie-a.jsonl", 2],
      ["tie-b.jsonl", 2],
    ] as const) {
      await writeFile(join(dir, name), "");
      await utimes(join(dir, name), at(minutes), at(minutes));
    }
    await mkdir(join(dir, "dir.jsonl"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("of any stack: the newest .jsonl by modification time (not a directory, not another kind of file)", async () => {
    expect(await newestResults(dir)).toBe(join(dir, "production-1.jsonl"));
  });

  it("of one stack: `<stack>-*.jsonl` only", async () => {
    expect(await newestResults(dir, "production")).toBe(join(dir, "production-1.jsonl"));
    // A stack whose name another's starts with sees that one's files too (the name is all there is); drift checks the header.
    expect(await newestResults(dir, "rehearsal")).toBe(join(dir, "rehearsal-w1-1.jsonl"));
    expect(await newestResults(dir, "rehearsal-w1")).toBe(join(dir, "rehearsal-w1-1.jsonl"));
    expect(await newestResults(dir, "staging")).toBeUndefined();
  });

  it("a tie goes to the later name; no directory is no results", async () => {
    expect(await newestResults(dir, "tie")).toBe(join(dir, "tie-b.jsonl"));
    expect(await newestResults(join(dir, "missing"))).toBeUndefined();
  });
});
