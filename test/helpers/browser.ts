// Headless Chromium driven over the DevTools protocol, for assertions on a rendered page (its
// layout, its SVG's geometry, what its policy blocked) rather than on its HTML text. No
// puppeteer: the protocol over a pipe is a few messages. Chromium reads commands on fd 3 and
// writes replies and events on fd 4, each a JSON object ended by a NUL byte. One browser per
// page, a fresh profile each time, no network: the page is a local file.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";

export interface BrowserPage {
  /** Runtime.evaluate with returnByValue and awaitPromise; throws with the exception's text if the expression throws. */
  evaluate<T>(expression: string): Promise<T>;
  /**
   * Page.captureScreenshot (PNG) written to `file`; returns its bytes. The full page (the viewport
   * made as tall as the content, see below); with a selector, only the first element it matches;
   * with `{ until }`, the page from its top to the bottom of that element.
   */
  screenshot(file: string, area?: string | { readonly until: string }): Promise<Buffer>;
  /** Console messages and Content-Security-Policy violations seen so far (Runtime.consoleAPICalled, Log.entryAdded). */
  readonly messages: readonly string[];
  violations(): string[];
  close(): Promise<void>;
}

const CHROMIUM = "/usr/bin/chromium";
const COMMAND_TIMEOUT_MS = 60_000;
/** Called by the page's listener for each `securitypolicyviolation` event (Runtime.addBinding). */
const BINDING = "__amadegiViolation";
const VIOLATION = "securitypolicyviolation";

// Installed before the page's own script runs. A DevTools script is not the page's, so its
// policy does not block it; it reports through the binding, never through the page's console.
const LISTENER = `document.addEventListener(${JSON.stringify(VIOLATION)}, (e) => {
  globalThis[${JSON.stringify(BINDING)}](JSON.stringify([e.effectiveDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample]));
}, true);`;

interface Reply {
  readonly id?: number;
  readonly sessionId?: string;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
}

type Listener = (params: Record<string, unknown>) => void;

/** One Chromium and its pipe: commands by id with a deadline each, events by session and method. */
class Connection {
  readonly #child: ChildProcess;
  readonly #in: Writable;
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Those waiting for an event: told at once when Chromium goes away. */
  readonly #waiting = new Set<(e: Error) => void>();
  #next = 1;
  #buffered: Buffer[] = [];
  #stderr = "";
  #gone: Error | undefined;

  constructor(child: ChildProcess) {
    this.#child = child;
    const [, , err, input, output] = child.stdio;
    this.#in = input as Writable;
    (output as Readable).on("data", (chunk: Buffer) => this.#read(chunk));
    // Kept short: only to say why Chromium went away.
    err?.on("data", (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-4000)));
    this.#in.on("error", (e) => this.#fail(new Error(`chromium's command pipe: ${e.message}`)));
    child.on("error", (e) => this.#fail(new Error(`could not run ${CHROMIUM}: ${e.message} (install it: bash scripts/setup)`)));
    child.on("exit", (code, signal) => this.#fail(new Error(`chromium exited (${signal ?? `code ${code}`}): ${this.#stderr.trim().slice(-1500)}`)));
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`chromium did not answer ${method} within ${COMMAND_TIMEOUT_MS / 1000} s`));
      }, COMMAND_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#in.write(`${JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) })}\0`);
    });
  }

  on(sessionId: string, method: string, listener: Listener): () => void {
    const key = `${sessionId} ${method}`;
    const set = this.#listeners.get(key) ?? new Set();
    set.add(listener);
    this.#listeners.set(key, set);
    return () => set.delete(listener);
  }

  /** The next `method` event of the session, within the commands' deadline. */
  once(sessionId: string, method: string): Promise<Record<string, unknown>> {
    if (this.#gone !== undefined) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        this.#waiting.delete(fail);
      };
      const fail = (e: Error): void => {
        done();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error(`chromium sent no ${method} within ${COMMAND_TIMEOUT_MS / 1000} s`)), COMMAND_TIMEOUT_MS);
      const off = this.on(sessionId, method, (params) => {
        done();
        resolve(params);
      });
      this.#waiting.add(fail);
    });
  }

  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  #read(chunk: Buffer): void {
    let from = 0;
    for (let end = chunk.indexOf(0); end >= 0; end = chunk.indexOf(0, from)) {
      this.#buffered.push(chunk.subarray(from, end));
      const text = Buffer.concat(this.#buffered).toString("utf8");
      this.#buffered = [];
      from = end + 1;
      this.#dispatch(JSON.parse(text) as Reply);
    }
    if (from < chunk.length) this.#buffered.push(chunk.subarray(from));
  }

  #dispatch(m: Reply): void {
    if (m.id !== undefined) {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(`chromium refused: ${m.error.message} (${m.error.code})`));
      else p.resolve(m.result ?? {});
      return;
    }
    if (m.method === undefined) return;
    for (const listener of this.#listeners.get(`${m.sessionId ?? ""} ${m.method}`) ?? []) listener(m.params ?? {});
  }

  #fail(e: Error): void {
    this.#gone ??= e;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(e);
    }
    for (const fail of this.#waiting) fail(e);
  }
}

const text = (v: unknown): string => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));

/** A console call's arguments as the console shows them: values, else descriptions. */
function consoleText(params: Record<string, unknown>): string {
  const args = Array.isArray(params.args) ? (params.args as { value?: unknown; description?: string }[]) : [];
  return `console.${text(params.type)}: ${args.map((a) => (a.value !== undefined ? text(a.value) : (a.description ?? ""))).join(" ")}`;
}

/**
 * Opens `file` (an absolute path to an HTML file) at width × height CSS pixels (Emulation.setDeviceMetricsOverride),
 * resolves once it has loaded (Page.loadEventFired).
 */
export async function openPage(file: string, o: { width?: number; height?: number } = {}): Promise<BrowserPage> {
  const profile = await mkdtemp(join(tmpdir(), "amadegi-browser-"));
  const child = spawn(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--remote-debugging-pipe",
      `--user-data-dir=${profile}`,
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
  );
  const cdp = new Connection(child);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      if (!cdp.exited) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        // Browser.close lets Chromium shut down on its own; SIGKILL if it does not within 5 s.
        cdp.send("Browser.close").catch(() => undefined);
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(profile, { recursive: true, force: true, maxRetries: 3 });
    })());

  try {
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    if (typeof sessionId !== "string") throw new Error("chromium attached to the page without a session");
    const session = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> => cdp.send(method, params, sessionId);

    const messages: string[] = [];
    const violations: string[] = [];
    cdp.on(sessionId, "Runtime.consoleAPICalled", (p) => messages.push(consoleText(p)));
    cdp.on(sessionId, "Log.entryAdded", (p) => {
      const entry = (p.entry ?? {}) as { source?: string; level?: string; text?: string; url?: string };
      const line = `log.${text(entry.source)}.${text(entry.level)}: ${text(entry.text)}`;
      messages.push(line);
      // Chromium logs each violation with source "security"; the text names the policy.
      if (entry.source === "security" || /Content Security Policy/i.test(text(entry.text))) violations.push(line);
    });
    cdp.on(sessionId, "Runtime.bindingCalled", (p) => {
      if (p.name !== BINDING) return;
      const line = `${VIOLATION}: ${text(p.payload)}`;
      messages.push(line);
      violations.push(line);
    });

    await session("Page.enable");
    await session("Runtime.enable");
    await session("Log.enable");
    await session("Runtime.addBinding", { name: BINDING });
    await session("Page.addScriptToEvaluateOnNewDocument", { source: LISTENER });
    const viewport = { width: o.width ?? 1280, height: o.height ?? 800, deviceScaleFactor: 1, mobile: false };
    await session("Emulation.setDeviceMetricsOverride", viewport);
    // No scrollbars: a full-page screenshot lays the page out again at its whole height, where a
    // scrollbar would go away and a right-to-left page would shift by its width.
    await session("Emulation.setScrollbarsHidden", { hidden: true });
    const loaded = cdp.once(sessionId, "Page.loadEventFired");
    // Awaited below; until then (a refused navigation) its rejection is not unhandled.
    loaded.catch(() => undefined);
    const nav = await session("Page.navigate", { url: pathToFileURL(file).href });
    if (typeof nav.errorText === "string" && nav.errorText !== "") throw new Error(`chromium could not open ${file}: ${nav.errorText}`);
    await loaded;

    return {
      messages,
      violations: () => [...violations],
      async evaluate<T>(expression: string): Promise<T> {
        const r = await session("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
        const ex = r.exceptionDetails as { text?: string; exception?: { description?: string; value?: unknown } } | undefined;
        if (ex !== undefined) {
          const why = ex.exception?.description ?? (ex.exception?.value === undefined ? undefined : text(ex.exception.value)) ?? ex.text;
          throw new Error(`the page threw evaluating ${expression.slice(0, 80)}: ${why ?? "an exception"}`);
        }
        return (r.result as { value?: unknown } | undefined)?.value as T;
      },
      async screenshot(to: string, area?: string | { readonly until: string }): Promise<Buffer> {
        // The whole page, not only the viewport. Chromium's captureBeyondViewport shifts a
        // right-to-left page sideways (this project's pages are): the viewport is made as tall as
        // the content instead, captured, and put back.
        const metrics = await session("Page.getLayoutMetrics");
        const size = metrics.cssContentSize as { width: number; height: number };
        const height = Math.max(viewport.height, Math.ceil(size.height));
        await session("Emulation.setDeviceMetricsOverride", { ...viewport, height });
        try {
          let clip = { x: 0, y: 0, width: viewport.width, height, scale: 1 };
          if (area !== undefined) {
            const selector = typeof area === "string" ? area : area.until;
            const expression = `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (e === null) return null;
              const b = e.getBoundingClientRect(); return { x: b.x + scrollX, y: b.y + scrollY, width: b.width, height: b.height }; })()`;
            const box = (await session("Runtime.evaluate", { expression, returnByValue: true })).result as { value: typeof clip | null };
            if (box.value === null) throw new Error(`screenshot: nothing on the page matches ${selector}`);
            const b = box.value;
            // An element with a margin of 8 px: glyphs may reach a little past their box.
            const x = Math.max(0, b.x - 8);
            const y = Math.max(0, b.y - 8);
            clip =
              typeof area === "string"
                ? { x, y, width: b.x + b.width + 8 - x, height: b.y + b.height + 8 - y, scale: 1 }
                : { x: 0, y: 0, width: viewport.width, height: Math.ceil(b.y + b.height + 16), scale: 1 };
          }
          const { data } = await session("Page.captureScreenshot", { format: "png", clip });
          const png = Buffer.from(text(data), "base64");
          await writeFile(to, png);
          return png;
        } finally {
          await session("Emulation.setDeviceMetricsOverride", viewport);
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
