// The engine's property values as the stand-in command provider reads them, and its diff: pure logic.
import { describe, expect, it } from "vitest";
import {
  ARCHIVE_SIG,
  ASSET_SIG,
  containsUnknown,
  diffInputs,
  inputsOf,
  reveal,
  same,
  secret,
  SIG_KEY,
  UNKNOWN,
} from "../../../src/toolchain/commandprovider/wire.ts";

const TRIGGERS = new Set(["triggers"]);

describe("values on the wire", () => {
  it("reveals secrets at any depth and keeps everything else", () => {
    const v = { a: secret("x"), b: [secret(1), 2], c: secret({ d: secret("e") }) };
    expect(reveal(v)).toEqual({ a: "x", b: [1, 2], c: { d: "e" } });
    expect(secret(secret("x"))).toEqual(secret("x"));
  });

  it("finds an unknown anywhere in a value", () => {
    expect(containsUnknown({ a: [1, { b: UNKNOWN }] })).toBe(true);
    expect(containsUnknown({ a: [1, { b: "known" }] })).toBe(false);
  });

  it("compares deeply, secretness included", () => {
    expect(same({ a: [1, "b"] }, { a: [1, "b"] })).toBe(true);
    expect(same({ a: [1, "b"] }, { a: [1, "c"] })).toBe(false);
    expect(same({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(same("x", secret("x"))).toBe(false);
  });
});

describe("assets", () => {
  const asset = (fields: Record<string, string>) => ({ [SIG_KEY]: ASSET_SIG, ...fields });
  it("are the same when their hashes are, wherever the bytes are kept (the engine's Asset.Equals)", () => {
    expect(same(asset({ hash: "ab", path: "/a/state/assets/s/ab" }), asset({ hash: "ab", path: "/b/.amadegi/assets/s/ab" }))).toBe(true);
    expect(same(asset({ hash: "ab", text: "x" }), asset({ hash: "ab", path: "/b/ab" }))).toBe(true);
    expect(same(asset({ hash: "ab", path: "/a/ab" }), asset({ hash: "cd", path: "/a/ab" }))).toBe(false);
    expect(same({ [SIG_KEY]: ARCHIVE_SIG, hash: "ab", path: "/a" }, { [SIG_KEY]: ARCHIVE_SIG, hash: "ab", path: "/b" })).toBe(true);
  });

  it("differ when one has no hash, and compare by content when neither has", () => {
    expect(same(asset({ hash: "ab", path: "/a" }), asset({ path: "/a" }))).toBe(false);
    expect(same(asset({ text: "x" }), asset({ text: "x" }))).toBe(true);
    expect(same(asset({ text: "x" }), asset({ text: "y" }))).toBe(false);
  });

  it("a moved file asset with the same hash is no change to a CopyToRemote", () => {
    const olds = { remotePath: "/etc/x", source: asset({ hash: "ab", path: "/a/ab" }) };
    expect(diffInputs(olds, { remotePath: "/etc/x", source: asset({ hash: "ab", path: "/b/ab" }) }, TRIGGERS).changes).toBe(false);
    expect([...diffInputs(olds, { remotePath: "/etc/x", source: asset({ hash: "cd", path: "/a/cd" }) }, TRIGGERS).detailed]).toEqual([["source", "update"]]);
  });
});

describe("diffInputs", () => {
  it("reports no change for equal inputs", () => {
    const d = diffInputs({ create: "a", triggers: [1] }, { create: "a", triggers: [1] }, TRIGGERS);
    expect(d).toEqual({ changes: false, replaces: [], detailed: new Map() });
  });

  it("updates on a changed command and replaces on changed triggers, property by property", () => {
    const d = diffInputs({ create: "a", triggers: [1], dir: "/x" }, { create: "b", triggers: [2], stdin: "s" }, TRIGGERS);
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual(["triggers"]);
    expect([...d.detailed]).toEqual([
      ["create", "update"],
      ["dir", "delete"],
      ["stdin", "add"],
      ["triggers", "update-replace"],
    ]);
  });

  it("replaces when triggers appear or go", () => {
    expect(diffInputs({}, { triggers: ["x"] }, TRIGGERS).detailed.get("triggers")).toBe("add-replace");
    expect(diffInputs({ triggers: ["x"] }, {}, TRIGGERS).detailed.get("triggers")).toBe("delete-replace");
  });

  it("counts an unknown new value as a change, even where the old one looked the same", () => {
    expect(diffInputs({ create: UNKNOWN }, { create: UNKNOWN }, TRIGGERS).detailed.get("create")).toBe("update");
  });

  it("keeps the old value of an ignored property", () => {
    expect(diffInputs({ create: "a", stdin: "x" }, { create: "a", stdin: "y" }, TRIGGERS, ["stdin"]).changes).toBe(false);
  });

  it("takes the input properties out of a state", () => {
    expect(inputsOf({ create: "a", stdout: "o", stderr: "" }, ["create", "delete"])).toEqual({ create: "a" });
  });
});
