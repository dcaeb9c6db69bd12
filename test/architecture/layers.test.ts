// The layers point one way (ADR 0001): data → model → provisioning / probing
// → readiness → CLI. This test reads every import in src/ and fails on one
// that points the wrong way.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../src/toolchain/paths.ts";

/** What each layer may import, besides itself. */
const allowed: Record<string, readonly string[]> = {
  lib: [],
  model: ["lib"],
  toolchain: ["lib"],
  provision: ["lib", "model", "toolchain"],
  probe: ["lib", "model", "toolchain"],
  readiness: ["lib", "model", "probe", "toolchain"],
  rehearsal: ["lib", "model", "toolchain", "probe"],
  cli: ["lib", "model", "toolchain", "provision", "probe", "readiness", "rehearsal"],
};

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

function layerOf(file: string, root = repoRoot): string | undefined {
  const rel = relative(join(root, "src"), file);
  return rel.startsWith("..") ? undefined : rel.split("/")[0];
}

async function violations(root = repoRoot): Promise<string[]> {
  const found: string[] = [];
  for (const file of await sources(join(root, "src"))) {
    const from = layerOf(file, root);
    if (from === undefined) continue;
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/gm)) {
      const target = layerOf(resolve(dirname(file), match[1] ?? ""), root);
      if (target === undefined || target === from) continue;
      if (!(allowed[from] ?? []).includes(target)) found.push(`${relative(root, file)} (${from}) imports ${match[1]} (${target})`);
    }
  }
  return found;
}

describe("layers", () => {
  it("every folder of src/ is a known layer", async () => {
    const dirs = (await readdir(join(repoRoot, "src"), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(dirs.filter((d) => !(d in allowed))).toEqual([]);
  });

  it("no import points against the layers", async () => {
    expect(await violations()).toEqual([]);
  });

  it("finds an import that points the wrong way", async () => {
    const root = await mkdtemp(join(tmpdir(), "amadegi-layers-"));
    try {
      await mkdir(join(root, "src", "model"), { recursive: true });
      await writeFile(join(root, "src", "model", "a.ts"), 'import { x } from "../provision/x.ts";\nimport { y } from "../lib/y.ts";\n');
      expect(await violations(root)).toEqual(["src/model/a.ts (model) imports ../provision/x.ts (provision)"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("nothing outside bin/ and the CLI imports the CLI", async () => {
    const offenders: string[] = [];
    for (const dir of ["src", "scripts"]) {
      for (const file of await sources(join(repoRoot, dir))) {
        if (layerOf(file) === "cli") continue;
        if (/from\s+["'][^"']*\/cli\//.test(await readFile(file, "utf8"))) offenders.push(relative(repoRoot, file));
      }
    }
    expect(offenders).toEqual([]);
  });
});
