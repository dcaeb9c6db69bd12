import * as pulumi from "@pulumi/pulumi";

export const environments = ["rehearsal", "staging", "production"] as const;
export type Environment = (typeof environments)[number];

/** The stack's settings, read once and checked (STYLE.md: one config.ts per program). */
export interface StackConfig {
  readonly stack: string;
  readonly environment: Environment;
  /** The inventory directory, relative to the repository root. */
  readonly inventory: string;
}

export function readStackConfig(): StackConfig {
  const config = new pulumi.Config("amadegi");
  const environment = config.require("environment");
  if (!(environments as readonly string[]).includes(environment)) {
    throw new Error(`stack ${pulumi.getStack()}: amadegi:environment is "${environment}"; set it to one of ${environments.join(", ")} in stacks/Pulumi.${pulumi.getStack()}.yaml`);
  }
  return {
    stack: pulumi.getStack(),
    environment: environment as Environment,
    inventory: config.get("inventory") ?? "inventory",
  };
}
