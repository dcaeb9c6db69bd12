// The waivers' silences made on a real Alertmanager (on loopback) by the script the monitor's
// command runs: added once, left alone when run again, expired when their waiver goes.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Inventory, type Silence, silencesOf } from "../../src/model/index.ts";
import { silencesScript } from "../../src/provision/scripts.ts";
import { startAlertmanager, type TestAlertmanager } from "../helpers/alertmanager.ts";
import { sampleInventory } from "../model/render/helpers.ts";

let dir = "";
let url = "";
let am: TestAlertmanager | undefined;
let inventory: Inventory;

function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("/bin/sh", ["-c", script], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }),
    );
  });
}

interface ApiSilence {
  id: string;
  status: { state: string };
  comment: string;
  createdBy: string;
  endsAt: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
}

async function active(): Promise<ApiSilence[]> {
  const all = (await (await fetch(`${url}/api/v2/silences`)).json()) as ApiSilence[];
  return all.filter((s) => s.status.state === "active");
}

beforeAll(async () => {
  inventory = await sampleInventory();
  dir = await mkdtemp(join(tmpdir(), "amadegi-t-silences-"));
  am = await startAlertmanager(dir);
  url = am.url;
});

afterAll(async () => {
  await am?.stop();
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

describe("silencesOf", () => {
  it("a live waiver of a station's redundancy silences its links' warnings until its last day ends; capacity and expired waivers none", () => {
    const silences = silencesOf(inventory);
    expect(silences.map((s) => [s.waiver, s.matchers, s.endsAt])).toEqual([
      ["W-001", ['alertname="AmadegiLinkDown"', 'station="PKD-0031"'], "2027-02-25T20:30:00.000Z"],
      ["W-002", ['alertname="AmadegiLinkDown"', 'station="PKD-0047"'], "2027-02-25T20:30:00.000Z"],
    ]);
    for (const s of silences) expect(s.comment.startsWith(`${s.tag}: redundancy.fixed-diversity on `)).toBe(true);
  });
});

describe("silencesScript on a real Alertmanager", () => {
  it("adds each waiver's silence once, leaves it alone when run again, expires it when its waiver is gone", async () => {
    const silences = silencesOf(inventory);
    const first = await sh(silencesScript(url, silences));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim().split("\n")).toEqual(silences.map((s) => s.tag).sort());
    const made = await active();
    expect(made.map((s) => [s.comment.split(":")[0], s.createdBy, s.endsAt.slice(0, 19)]).sort()).toEqual(
      silences.map((s) => [s.tag, "amadegi", s.endsAt.slice(0, 19)]).sort(),
    );
    expect(made.find((s) => s.comment.startsWith(silences[0]?.tag ?? "?"))?.matchers.map((m) => [m.name, m.value, m.isRegex])).toEqual([
      ["alertname", "AmadegiLinkDown", false],
      ["station", "PKD-0031", false],
    ]);
    // Again: nothing new.
    expect((await sh(silencesScript(url, silences))).code).toBe(0);
    expect((await active()).map((s) => s.id).sort()).toEqual(made.map((s) => s.id).sort());
    // W-002 gone: its silence expires, W-001's stays.
    const left: Silence[] = silences.filter((s) => s.waiver === "W-001");
    const second = await sh(silencesScript(url, left));
    expect(second.code, second.stderr).toBe(0);
    expect((await active()).map((s) => s.comment.split(":")[0])).toEqual([left[0]?.tag]);
    // None left: every one of amadegi's expires.
    expect((await sh(silencesScript(url, []))).code).toBe(0);
    expect(await active()).toEqual([]);
  });

  it("says so and fails when Alertmanager does not answer", async () => {
    const r = await sh(silencesScript("http://127.0.0.1:9", silencesOf(inventory)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("amtool cannot reach Alertmanager at http://127.0.0.1:9");
  });
});
