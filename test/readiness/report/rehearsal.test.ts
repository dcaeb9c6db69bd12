// The rehearsal drawn (issue 19): a real plan of the whole sample (1,415 stations, 2,831 links) and
// statuses as `rehearsal status` reports them — whole; an operator's namespace missing and two
// sshd silent; not up — give pictures that differ where they should: the namespace drawn missing,
// its links down, the silent servers red, the legend's counts. Links are cells per operator ×
// district, never one element per link. Hostile names stay text.
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inventory } from "../../../src/model/index.ts";
import { type RehearsalPictureInput, rehearsalPicture, renderRehearsalHtml, type StatusView } from "../../../src/readiness/report/rehearsal.ts";
import { ANSWERING_STATES, type Plan, planRehearsal } from "../../../src/rehearsal/plan.ts";
import { brokenStatus, sampleModel, wholeStatus } from "./rehearsal-fixture.ts";

const count = (page: string, re: RegExp): number => page.match(new RegExp(re.source, "g"))?.length ?? 0;
/** The opening tag of the element whose attribute `attr` is `value`. */
const tagOf = (page: string, attr: string, value: string): string => new RegExp(`<[a-z]+ [^>]*${attr}="${value}"[^>]*>`).exec(page)?.[0] ?? "";

describe("the rehearsal drawn, over the whole sample", () => {
  let root = "";
  let inventory: Inventory;
  let plan: Plan;
  const input = (status: StatusView, inv: Inventory = inventory): RehearsalPictureInput => ({ inventory: inv, plan, status, answering: ANSWERING_STATES });
  beforeAll(async () => {
    ({ root, inventory } = await sampleModel());
    plan = planRehearsal(inventory);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("a whole rehearsal: every namespace and veth up, each link's state from the plan (blind spot, weak, not built)", () => {
    expect(inventory.stations).toHaveLength(1415);
    const p = rehearsalPicture(input(wholeStatus(plan)));
    expect(p.state).toBe("whole");
    expect(p.namespaces.map((n) => n.state)).toEqual(plan.namespaces.map(() => "up"));
    expect(p.veths.every((v) => v.state === "up")).toBe(true);
    const blind = plan.operators.reduce((n, o) => n + o.blind.length, 0);
    const weak = plan.operators.reduce((n, o) => n + o.weak.length, 0);
    const answering = plan.operators.reduce((n, o) => n + o.answering, 0);
    // 2,831 links: three planned or ordered are not built (rightel's one among them).
    expect(p.links).toEqual({ up: answering - blind - weak, lossy: weak, blind, unknown: 0, down: 0, absent: 2831 - answering });
    expect(p.links.absent).toBe(3);
    expect(p.cells.filter((c) => c.operator === "rightel").map((c) => c.counts.absent)).toEqual([1]);
    expect(p.cells.reduce((n, c) => n + c.total, 0)).toBe(2831);
    expect(p.stations.none).toBe(0);
  });

  it("mci's namespace missing and two sshd silent: mci drawn missing, its veths and links down, the servers red, the legend counts it", () => {
    const whole = renderRehearsalHtml(input(wholeStatus(plan)), "en");
    const broken = renderRehearsalHtml(input(brokenStatus(plan)), "en");
    const p = rehearsalPicture(input(brokenStatus(plan)));
    const mci = plan.operators.find((o) => o.id === "mci");
    expect(p.state).toBe("not-whole");
    expect(p.namespaces.find((n) => n.name === "amadegi-r-op-mci")?.state).toBe("down");
    expect(p.veths.filter((v) => v.state === "down").map((v) => v.bNs)).toEqual(["amadegi-r-op-mci", "amadegi-r-op-mci"]);
    expect(p.links.down).toBe(mci?.answering);
    expect(p.cells.filter((c) => c.operator === "mci").every((c) => c.counts.down === c.total)).toBe(true);

    // Each namespace is one group, coloured by its state.
    for (const page of [whole, broken]) expect(count(page, /<g class="rh-ns /)).toBe(plan.namespaces.length);
    expect(tagOf(whole, "data-ns", "amadegi-r-op-mci")).toMatch(/class="rh-ns ns-up"/);
    expect(tagOf(broken, "data-ns", "amadegi-r-op-mci")).toMatch(/class="rh-ns ns-down"/);
    expect(tagOf(broken, "data-ns", "amadegi-r-op-tci")).toMatch(/class="rh-ns ns-up"/);
    expect(tagOf(whole, "data-server", "gw-teh1-01")).toMatch(/srv-up/);
    expect(tagOf(broken, "data-server", "gw-teh1-01")).toMatch(/srv-down/);
    expect(count(broken, /class="rh-srv srv-down"/)).toBe(2);
    expect(count(broken, /class="veth veth-down"/)).toBe(2);

    // The status line first, then the legend's counts.
    expect(whole).toMatch(/<section id="status" class="state state-whole"><span class="big">rehearsal is up and whole<\/span>/);
    expect(broken).toMatch(/<section id="status" class="state state-not-whole"><span class="big">rehearsal is NOT whole<\/span>/);
    expect(whole).toContain('<i class="ns-down"></i>missing: 0');
    expect(broken).toContain('<i class="ns-down"></i>missing: 1');
    expect(broken).toContain('<i class="ns-up"></i>up: 5');
    expect(whole).toContain('<i class="srv-down"></i>sshd not listening: 0');
    expect(broken).toContain('<i class="srv-down"></i>sshd not listening: 2');
    expect(broken).toContain(`<i class="lk-down"></i>down: its namespace, the core or its veths are missing: ${mci?.answering}`);
    expect(broken).toContain('<li><bdi dir="ltr">namespace amadegi-r-op-mci: does not exist</bdi></li>');
    expect(whole).not.toContain('id="problems"');
  });

  it("links are aggregated per operator × district, and the page says so", () => {
    const page = renderRehearsalHtml(input(wholeStatus(plan)), "en");
    const p = rehearsalPicture(input(wholeStatus(plan)));
    // 4 operators × 2 districts, at most.
    expect(p.cells.length).toBeLessThanOrEqual(plan.operators.length * inventory.districts.length);
    expect(count(page, /<g class="rh-cell"/)).toBe(p.cells.length);
    expect(count(page, /<(rect|line|path|circle) /)).toBeLessThan(300);
    expect(page).toMatch(/<p id="aggregated">Links are drawn aggregated per operator × district, not one line per link: 2831 links — \d cells/);
    expect(tagOf(page, "data-operator", "tci")).toMatch(/data-district="pakdasht" data-links="\d+"/);
  });

  it("Persian first: rtl, Persian digits, ids isolated", () => {
    const page = renderRehearsalHtml(input(brokenStatus(plan)), "fa");
    expect(page).toMatch(/<html lang="fa" dir="rtl">/);
    expect(page).toContain("تمرین کامل نیست");
    expect(page).toContain("۲۸۳۱");
    expect(page).not.toMatch(/>[^<]*\b2831\b/);
    expect(page).toContain('<bdi dir="ltr">namespace amadegi-r-op-mci: does not exist</bdi>');
  });

  it("not up: every namespace missing, no link answers; a stray namespace is drawn apart", () => {
    // As status.ts reports it without a marker: nothing exists, one stray namespace of another inventory.
    const unmarked: StatusView = {
      exists: false,
      whole: false,
      matchesInventory: false,
      namespaces: plan.namespaces.map((n) => ({ name: n.name, exists: false, problems: ["does not exist"] })),
      strayNamespaces: ["amadegi-r-op-gone"],
      servers: [],
      pins: false,
      problems: ["no marker: the rehearsal is not up (amadegi rehearsal up)"],
    };
    const p = rehearsalPicture(input(unmarked));
    expect(p.state).toBe("not-up");
    expect(p.links.up + p.links.lossy + p.links.blind).toBe(0);
    expect(p.stations).toEqual({ path: 0, unknown: 0, none: 1415 });
    const page = renderRehearsalHtml(input(unmarked), "en");
    expect(page).toContain("rehearsal is not up");
    expect(count(page, /<g class="rh-ns ns-down"/)).toBe(plan.namespaces.length);
    expect(count(page, /<g class="rh-stray"/)).toBe(1);
  });

  it("a hostile operator or district name (or id) stays inert text", () => {
    const evil = `<script>alert(1)</script>" onload="x()\u202e`;
    const district = inventory.districts[0]?.id ?? "";
    const hostile: Inventory = {
      ...inventory,
      operators: inventory.operators.map((o) => (o.id === "tci" ? { ...o, name: `tci ${evil}` } : o)),
      districts: inventory.districts.map((d) => (d.id === district ? { ...d, id: `d${evil}`, name: `${evil} ${d.name}` } : d)),
      stations: inventory.stations.map((s) => (s.district === district ? { ...s, district: `d${evil}` } : s)),
    };
    for (const lang of ["fa", "en"] as const) {
      const page = renderRehearsalHtml(input(brokenStatus(plan), hostile), lang);
      expect(page).not.toContain("<script>");
      expect(page).not.toContain("\u202e");
      expect(page).not.toMatch(/ onload="/);
      expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;x()[U+202E]");
      expect(page).toMatch(/data-district="d&lt;script&gt;/);
      // The district keeps its stations and cells under its hostile id.
      expect(count(page, /<g class="rh-cell" data-operator="[a-z]+" data-district="d&lt;script/)).toBeGreaterThan(0);
    }
  });
});
