// config.ts inside the program: Pulumi's config object checked against the one
// schema of a stack's settings (src/model/stackfile.ts), paths to state resolved
// against the state directory of the process the program runs in.
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig } from "../../src/provision/config.ts";

const saved = process.env.AMADEGI_STATE_DIR;
beforeAll(async () => {
  await pulumi.runtime.setMocks(
    { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: (args) => args.inputs },
    "amadegi",
    "unit",
    true,
  );
  process.env.AMADEGI_STATE_DIR = "/var/lib/amadegi-state";
});
afterAll(() => {
  if (saved === undefined) delete process.env.AMADEGI_STATE_DIR;
  else process.env.AMADEGI_STATE_DIR = saved;
});

const rehearsalLike = {
  "amadegi:environment": "rehearsal",
  "amadegi:inventory": "inventory",
  "amadegi:probe": JSON.stringify({ allow: ["10.0.0.0/8"], netns: "ns", pins: "rehearsal/pins.yaml", ca: "rehearsal/ca.crt" }),
  "amadegi:pki": JSON.stringify({ caFile: "rehearsal/ca.crt" }),
  "amadegi:devices": JSON.stringify({ requests: "rehearsal/devices", issued: "/abs/issued" }),
  "amadegi:ssh": JSON.stringify({ identityFile: "keys/id" }),
  "pulumi:tags": JSON.stringify({ a: "b" }),
};

describe("readStackConfig", () => {
  it("resolves the pins overlay, the CA file and the devices' directories against the state directory", () => {
    pulumi.runtime.setAllConfig(rehearsalLike);
    expect(readStackConfig()).toEqual({
      stack: "unit",
      environment: "rehearsal",
      inventory: "inventory",
      allow: ["10.0.0.0/8"],
      netns: "ns",
      pins: "/var/lib/amadegi-state/rehearsal/pins.yaml",
      identityFile: "keys/id",
      caFile: "/var/lib/amadegi-state/rehearsal/ca.crt",
      devices: { requests: "/var/lib/amadegi-state/rehearsal/devices", issued: "/abs/issued" },
    });
  });

  it("refuses what the schema refuses, every finding named by its key, with the file to fix", () => {
    pulumi.runtime.setAllConfig({
      ...rehearsalLike,
      "amadegi:probe": JSON.stringify({ allow: ["10.0.0.1/8"] }),
      "amadegi:devices": JSON.stringify({ requests: "rehearsal/devices" }),
      "amadegi:pkii": JSON.stringify({}),
    });
    expect(() => readStackConfig()).toThrow(
      new RegExp(
        [
          "^stack unit: the settings in stacks/Pulumi\\.unit\\.yaml do not pass their schema:",
          '  amadegi:probe: "10\\.0\\.0\\.1/8" is not a CIDR: host bits are set \\(.*\\)',
          '  amadegi:devices: missing field "issued" \\(.*\\)',
          '  -: unknown setting "amadegi:pkii" \\(did you mean "amadegi:pki"\\?\\) \\(.*\\)$',
        ].join("\n"),
      ),
    );
  });
});
