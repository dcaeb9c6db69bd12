/**
 * The versions this project is pinned to, in one place. package.json pins the
 * npm side to the same numbers; test/toolchain/pins.test.ts keeps them equal.
 *
 * Pulumi is v3.276.0, CLI and SDK alike: the newest release whose
 * github.com/pulumi/pulumi/pkg/v3 module the Go module proxy reachable here
 * serves and that builds (checked 2026-12-02), and the newest @pulumi/pulumi on
 * npm. See docs/adr/0003-pulumi-engine-offline.md.
 */
export const PULUMI_VERSION = "3.276.0";
export const COMMAND_PROVIDER_VERSION = "1.2.1";
/** The commit of pulumi-command's tag v1.2.1 (its Go module has no tag of its own). */
export const COMMAND_PROVIDER_COMMIT = "7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25";
export const NODE_MAJOR = 24;
/** Exact Node release setup installs from the npm registry package `node`. */
export const NODE_VERSION = "24.21.0";

/** A program built from the Go module proxy by setup and cached by version. */
export interface GoTool {
  /** The binary's name, on PATH and in the cache. */
  readonly binary: string;
  readonly version: string;
  /** The Go module it is built from, required at `version` by the wrapper. */
  readonly module: string;
  /** The wrapper module under scripts/go/ that pins its dependencies. */
  readonly wrapper: string;
  /** The main package to build. */
  readonly main: string;
  readonly ldflags: string;
  readonly tags: string;
  /** How to ask the binary its version; the first line it prints must be `version`. */
  readonly versionArgs: readonly string[];
}

export const goTools: readonly GoTool[] = [
  {
    binary: "pulumi",
    version: `v${PULUMI_VERSION}`,
    module: "github.com/pulumi/pulumi/pkg/v3",
    wrapper: "scripts/go/pulumi",
    main: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
    ldflags: `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}`,
    tags: "osusergo,grpcnotrace",
    versionArgs: ["version"],
  },
  {
    // Lints the GitHub workflows in .ci/run (and in npm test).
    binary: "actionlint",
    version: "v1.7.12",
    module: "github.com/rhysd/actionlint",
    wrapper: "scripts/go/actionlint",
    main: "github.com/rhysd/actionlint/cmd/actionlint",
    ldflags: "-X github.com/rhysd/actionlint.version=v1.7.12",
    tags: "",
    versionArgs: ["-version"],
  },
];

/**
 * Go programs the project needs but whose modules the Go module proxy here
 * refuses outright (403 for every version and for the module's list). Setup
 * asks once per run, so the day the proxy serves them they are built; until
 * then doctor reports them missing. Each has a wrapper module ready.
 */
export const refusedGoModules: readonly { binary: string; module: string; version: string; why: string }[] = [
  {
    binary: "pulumi-language-nodejs",
    module: "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3",
    version: `v${PULUMI_VERSION}`,
    why: "needed by a plain `pulumi preview` of a nodejs project (the Automation API's inline programs do not need it)",
  },
  {
    binary: "pulumi-resource-command",
    module: "github.com/pulumi/pulumi-command/provider",
    version: COMMAND_PROVIDER_COMMIT,
    why: "the provider behind @pulumi/command (local.Command, remote.Command, remote.CopyToRemote)",
  },
];

/** Debian packages the project's probes, stacks and rehearsal run. */
export const debianPackages: readonly string[] = [
  "fping",
  "iproute2",
  "nftables",
  "openssh-server",
  "openssh-client",
  "nginx-light",
  "unbound",
  "chrony",
  "prometheus",
  "prometheus-blackbox-exporter",
  "prometheus-alertmanager",
  "prometheus-node-exporter",
  "faketime",
  "chromium",
  "libxml2-utils",
];
