import { COMMAND_PROVIDER_VERSION, NODE_MAJOR, PULUMI_VERSION } from "./pins.ts";

/**
 * Every program amadegi relies on, and how to ask it its version. `needs`
 * says which commands cannot work without it; doctor exits 1 when a tool a
 * command needs is missing or of the wrong version.
 */
export interface ToolSpec {
  readonly name: string;
  readonly binary: string;
  readonly versionArgs: readonly string[];
  /** Pulls the version out of what the program printed (stdout and stderr together). */
  readonly versionPattern: RegExp;
  /** The version required, where one is pinned; compared with the parsed version. */
  readonly expect?: (version: string) => boolean;
  readonly expected?: string;
  readonly source: "node" | "go-build" | "go-proxy-refused" | "debian" | "npm" | "system";
  /** What breaks without it. */
  readonly needs: readonly string[];
  /** Only root can run it (sbin). */
  readonly sbin?: boolean;
  /** Why nothing amadegi runs needs it (reported when missing, never counted as missing). */
  readonly optional?: string;
  /**
   * Where Pulumi's own cannot be had, setup installs amadegi's stand-in under the same name
   * (src/toolchain/langhost.ts, src/toolchain/commandprovider/); doctor names which one runs and
   * judges each by its own version.
   */
  readonly standIn?: boolean;
}

const semver = /v?(\d+\.\d+\.\d+)/;

export const toolCatalog: readonly ToolSpec[] = [
  {
    name: "node",
    binary: "node",
    versionArgs: ["--version"],
    versionPattern: semver,
    expect: (v) => v.startsWith(`${NODE_MAJOR}.`),
    expected: `${NODE_MAJOR}.x`,
    source: "node",
    needs: ["every command", "the Pulumi language host"],
  },
  {
    name: "pulumi",
    binary: "pulumi",
    versionArgs: ["version"],
    versionPattern: semver,
    expect: (v) => v === PULUMI_VERSION,
    expected: PULUMI_VERSION,
    source: "go-build",
    needs: ["preview", "up", "destroy", "drift"],
  },
  {
    name: "pulumi-language-nodejs",
    binary: "pulumi-language-nodejs",
    versionArgs: ["-version"],
    versionPattern: semver,
    expect: (v) => v === PULUMI_VERSION,
    expected: PULUMI_VERSION,
    source: "go-proxy-refused",
    standIn: true,
    needs: ["plain `pulumi preview`, `up` and `destroy` from the repository root"],
  },
  {
    name: "pulumi-resource-command",
    binary: "pulumi-resource-command",
    versionArgs: ["-version"],
    versionPattern: semver,
    expect: (v) => v === COMMAND_PROVIDER_VERSION,
    expected: COMMAND_PROVIDER_VERSION,
    source: "go-proxy-refused",
    standIn: true,
    needs: ["@pulumi/command's local.Command, remote.Command and remote.CopyToRemote"],
    optional: "the stack provisions with dynamic providers over OpenSSH instead (ADR 0006)",
  },
  {
    name: "pulumi-resource-pulumi-nodejs",
    binary: "pulumi-resource-pulumi-nodejs",
    versionArgs: [],
    versionPattern: /$^/,
    source: "npm",
    needs: ["dynamic providers"],
  },
  {
    name: "actionlint",
    binary: "actionlint",
    versionArgs: ["-version"],
    versionPattern: semver,
    expect: (v) => v === "1.7.12",
    expected: "1.7.12",
    source: "go-build",
    needs: ["workflow lint in npm test"],
  },
  { name: "go", binary: "go", versionArgs: ["version"], versionPattern: /go(\d+\.\d+(?:\.\d+)?)/, source: "system", needs: ["setup (builds the Go tools)"] },
  { name: "fping", binary: "fping", versionArgs: ["-v"], versionPattern: /Version (\d+\.\d+(?:\.\d+)?)/, source: "debian", needs: ["check (icmp probes)"] },
  { name: "ip", binary: "ip", versionArgs: ["-V"], versionPattern: /(\d+\.\d+\.\d+|\d{6})/, source: "debian", needs: ["rehearsal"], sbin: true },
  { name: "nft", binary: "nft", versionArgs: ["--version"], versionPattern: semver, source: "debian", needs: ["rehearsal (link loss)"], sbin: true },
  {
    name: "sshd",
    binary: "sshd",
    versionArgs: ["-V"],
    versionPattern: /OpenSSH_([\w.]+)/,
    source: "debian",
    needs: ["rehearsal (central servers)"],
    sbin: true,
  },
  // ssh-keygen prints no version of its own; it ships with ssh in openssh-client.
  { name: "ssh", binary: "ssh", versionArgs: ["-V"], versionPattern: /OpenSSH_([\w.]+)/, source: "debian", needs: ["sign-off (ssh-keygen -Y)", "stacks"] },
  { name: "nginx", binary: "nginx", versionArgs: ["-v"], versionPattern: /nginx\/(\d+\.\d+\.\d+)/, source: "debian", needs: ["gateway role"], sbin: true },
  { name: "unbound", binary: "unbound", versionArgs: ["-V"], versionPattern: /Version (\d+\.\d+\.\d+)/, source: "debian", needs: ["dns role"], sbin: true },
  {
    name: "chronyd",
    binary: "chronyd",
    versionArgs: ["-v"],
    versionPattern: /version (\d+\.\d+(?:\.\d+)?)/,
    source: "debian",
    needs: ["ntp role"],
    sbin: true,
  },
  {
    name: "prometheus",
    binary: "prometheus",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["monitor role"],
  },
  {
    name: "promtool",
    binary: "promtool",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["alert rule tests"],
  },
  {
    name: "blackbox_exporter",
    binary: "prometheus-blackbox-exporter",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["monitor role", "probe benchmark"],
  },
  {
    name: "alertmanager",
    binary: "prometheus-alertmanager",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["monitor role (notifications)"],
  },
  {
    name: "node_exporter",
    binary: "prometheus-node-exporter",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["monitor role (the time servers' clocks)"],
  },
  {
    name: "amtool",
    binary: "amtool",
    versionArgs: ["--version"],
    versionPattern: /version (\d+\.\d+\.\d+)/,
    source: "debian",
    needs: ["alert routing tests", "monitor role (validates Alertmanager's configuration)"],
  },
  { name: "faketime", binary: "faketime", versionArgs: ["--version"], versionPattern: /(\d+\.\d+(?:\.\d+)?)/, source: "debian", needs: ["clock-skew drills"] },
  { name: "chromium", binary: "chromium", versionArgs: ["--version"], versionPattern: /(\d+\.\d+\.\d+\.\d+)/, source: "debian", needs: ["HTML report tests"] },
  // libxml2-utils; it prints libxml2's version as one number, 20914 for 2.9.14.
  {
    name: "xmllint",
    binary: "xmllint",
    versionArgs: ["--version"],
    versionPattern: /libxml version (\d+)/,
    source: "debian",
    needs: ["junit.xml tests (well-formed XML for any data)"],
  },
];
