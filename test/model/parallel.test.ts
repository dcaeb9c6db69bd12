// Stages 1–2 on other threads (ADR 0017): the same findings and the same
// inventory as on one thread, for a valid inventory and for one broken in
// every way a file can be broken before and during its schema; and nothing
// lost when a thread ends early.
import { readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import type { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it, vi } from "vitest";
import { FindingSink } from "../../src/model/finding.ts";
import { loadInventory } from "../../src/model/index.ts";
import { Preparers, THREADS_FROM_FILES, threadsFor } from "../../src/model/parallel.ts";
import { prepareFile } from "../../src/model/prepare.ts";
import { writeNational } from "../../src/model/synthetic/national.ts";
import { TODAY } from "./fixture.ts";

const root = mkdtempSync(join(tmpdir(), "amadegi-parallel-"));
afterAll(() => rm(root, { recursive: true, force: true }));

async function national(name: string): Promise<{ dir: string; districts: string[] }> {
  const dir = join(root, name);
  const written = await writeNational(dir, { stations: 1_200, seed: 3, districts: 24 });
  const districts = written.filter((p) => p.startsWith("inventory/districts/")).map((p) => join(dir, p));
  return { dir: join(dir, "inventory"), districts };
}

async function edit(file: string, change: (text: string) => string): Promise<void> {
  await writeFile(file, change(await readFile(file, "utf8")));
}

/** The first occurrence of `find` replaced, and the test fails if there is none. */
function once(find: string, replace: string): (text: string) => string {
  return (text) => {
    expect(text).toContain(find);
    return text.replace(find, replace);
  };
}

/** The inventory loaded on this thread alone, with one thread and with two besides it (both the same, or the test fails). */
async function both(dir: string) {
  const here = await loadInventory(dir, { today: TODAY, threads: 0 });
  const threaded = await loadInventory(dir, { today: TODAY, threads: 1 });
  const two = await loadInventory(dir, { today: TODAY, threads: 2 });
  expect(two.findings).toEqual(threaded.findings);
  expect(JSON.stringify(two.inventory)).toBe(JSON.stringify(threaded.inventory));
  return { here, threaded };
}

describe("preparing district files on other threads", () => {
  it("is used for a national inventory, not for a small one", () => {
    expect(threadsFor(THREADS_FROM_FILES - 1)).toBe(0);
    expect(threadsFor(1_200)).toBe(availableParallelism() >= 2 ? 1 : 0);
  });

  it("gives the same inventory, positions included, with escaped and folded values crossing threads", async () => {
    const { dir, districts } = await national("valid");
    const [first = "", second = ""] = districts;
    // A name written with escapes, and one folded over two lines: their values are decoded on the thread.
    await edit(first, (t) => t.replace(/\n {4}name: (.+)\n/, '\n    name: "$1 \\u0041\\t\\"x\\""\n'));
    await edit(second, (t) => t.replace(/\n {4}name: (.+)\n/, "\n    name: >-\n      $1\n      folded\n"));
    const { here, threaded } = await both(dir);
    expect(here.inventory).toBeDefined();
    expect(threaded.findings).toEqual(here.findings);
    expect(JSON.stringify(threaded.inventory)).toBe(JSON.stringify(here.inventory));
    const names = here.inventory?.stations.map((s) => s.name) ?? [];
    expect(names.some((n) => n.endsWith(' A\t"x"'))).toBe(true);
    expect(names.some((n) => n.endsWith(" folded"))).toBe(true);
    // Every item's position is found in the file its thread parsed.
    for (const station of (threaded.inventory?.stations ?? []).slice(0, 200)) {
      expect(threaded.sources.locate(station.origin, "name")).toEqual(here.sources.locate(station.origin, "name"));
    }
  });

  it("gives the same findings for files broken before, during and after the parse, the caps counted across threads", async () => {
    const { dir, districts } = await national("broken");
    const d = (i: number) => districts[i] ?? "";
    await edit(d(0), (t) => `${t}  bad: [unclosed\n`);
    await edit(d(1), once("\nstations:\n", "\nextra: &a 1\nagain: *a\nstations:\n"));
    await edit(d(2), (t) => `# password: hunter2\n${t}`);
    await edit(d(3), (t) => `# \u202e reversed\n${t}`);
    // 150 secrets in comments (read before the schema) and one in a field (the schema's): one cap for both.
    await edit(d(4), (t) => `${"# token: x\n".repeat(150)}${t.replace("\nstations:\n", "\npassword: x\nstations:\n")}`);
    await edit(d(5), (t) => `${t}\0`);
    await writeFile(d(6), Buffer.concat([Buffer.from("district:\n  id: x\n  name: "), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]));
    await writeFile(d(7), "# only a comment\n");
    await edit(d(8), (t) => t.replace(/\n {4}name: (.+)\n/, '\n    name: "$1\\u202e"\n'));
    await edit(d(9), (t) => `${t}${Array.from({ length: 150 }, (_, k) => `zz${k}: 1\n`).join("")}`);
    await edit(d(10), (t) => t.replace("medium: fiber", "medium: fibre"));
    const { here, threaded } = await both(dir);
    const rules = new Set(here.findings.map((f) => f.rule));
    for (const rule of ["yaml.syntax", "yaml.alias", "security.secret", "security.bidi-control", "input.binary", "input.encoding", "input.empty"]) {
      expect(rules, rule).toContain(rule);
    }
    for (const rule of ["schema.unknown-field", "schema.bad-value", "input.truncated"]) expect(rules, rule).toContain(rule);
    const truncated = here.findings.filter((f) => f.rule === "input.truncated" && f.file === d(4));
    expect(truncated.map((f) => f.message)).toEqual(["51 more security.secret findings in this file were not listed"]);
    expect(threaded.findings).toEqual(here.findings);
    expect(threaded.inventory).toBeUndefined();
  });

  it("prepares here what a thread that ended early did not", async () => {
    const { districts } = await national("ended");
    const files = districts.map((path) => ({ path, role: "district" as const }));
    const expected = new FindingSink();
    const want = files.map((f) => prepareFile(f.path, f.role, expected));
    const expectedFindings = expected.close();
    const check = async (preparers: Preparers) => {
      const sink = new FindingSink();
      try {
        for (const [i, w] of want.entries()) {
          const got = await preparers.take(i, sink);
          expect(got.parsed).toBe(w.parsed);
          expect(got.source?.kinds).toEqual(w.source?.kinds);
        }
      } finally {
        preparers.close();
      }
      expect(sink.close()).toEqual(expectedFindings);
    };
    // A real thread, stopped once it has replied once: whatever it claimed and did not send is prepared here.
    const real = new Preparers(files, 1);
    const inside = real as unknown as { workers: Worker[]; replies: Map<number, unknown>; claims: Int32Array; fail(): void };
    await vi.waitFor(() => expect(inside.replies.size).toBeGreaterThan(0));
    await inside.workers[0]?.terminate();
    await check(real);
    // Files a thread claimed (2) and never answered, the thread gone: none is lost.
    const none = new Preparers(files, 0);
    const claims = (none as unknown as typeof inside).claims;
    for (let id = 10; id < files.length; id++) claims[id] = 2;
    (none as unknown as typeof inside).fail();
    await check(none);
  });
});
