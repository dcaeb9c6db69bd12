// Headless Chromium for the report's tests: no network, a fresh profile each
// time, and the page's console (where Chromium writes every Content Security
// Policy violation) read from its log on stderr.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Page {
  readonly stdout: string;
  /** The page's console messages, as Chromium logs them (`INFO:CONSOLE:…] "message", source: …`). */
  readonly console: readonly string[];
}

export async function chromiumPage(args: readonly string[]): Promise<Page> {
  const profile = await mkdtemp(join(tmpdir(), "amadegi-chromium-"));
  try {
    const { stdout, stderr } = await run(
      "/usr/bin/chromium",
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--enable-logging=stderr",
        "--v=0",
        ...args,
      ],
      { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return { stdout, console: stderr.split("\n").filter((line) => line.includes(":CONSOLE")) };
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** Headless Chromium's stdout (a dumped DOM, nothing for a screenshot). */
export async function chromium(args: readonly string[]): Promise<string> {
  return (await chromiumPage(args)).stdout;
}

/** Console messages that report a Content Security Policy violation. */
export const violations = (page: Page): string[] => page.console.filter((line) => /Content Security Policy/i.test(line));
