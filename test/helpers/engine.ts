import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { engineEnv } from "../../src/toolchain/env.ts";
import { which } from "../../src/toolchain/inspect.ts";
import { COMMAND_PROVIDER_VERSION } from "../../src/toolchain/pins.ts";

/**
 * A throwaway Pulumi environment: its own file backend and passphrase in a
 * temp dir, so engine tests never touch the project's state.
 */
export async function throwawayEnv(): Promise<{ dir: string; env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-engine-"));
  const passphrase = join(dir, "passphrase");
  await writeFile(passphrase, "throwaway test passphrase\n", { mode: 0o600 });
  const env = { ...process.env, AMADEGI_STATE_DIR: dir, PULUMI_CONFIG_PASSPHRASE_FILE: passphrase };
  return { dir, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function pulumiInstalled(): Promise<boolean> {
  return (await which("pulumi", engineEnv().PATH)) !== undefined;
}

/** Whether the command provider is registered with Pulumi (setup installs it when it can be built). */
export function commandProviderInstalled(): boolean {
  const home = process.env.PULUMI_HOME ?? join(homedir(), ".pulumi");
  return existsSync(join(home, "plugins", `resource-command-v${COMMAND_PROVIDER_VERSION}`, "pulumi-resource-command"));
}

export async function languageHostInstalled(): Promise<boolean> {
  return (await which("pulumi-language-nodejs", engineEnv().PATH)) !== undefined;
}
