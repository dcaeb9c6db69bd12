import { createHash } from "node:crypto";
import type { Lang } from "./i18n.ts";

/**
 * The markup of amadegi's HTML pages (report.html, a drill's page, the
 * rehearsal's picture): every field of every input reaches a page through the
 * `html` tag below, which escapes whatever it interpolates unless it is markup
 * the tag itself made, and checks where each hole is. A page's one <script>
 * and one <style> are module constants, allowed by the Content-Security-Policy
 * by their sha256 only: no inline handler, style attribute or URL anywhere.
 */

// ------------------------------------------------------------------------------------------
// Escaping: the one function, and the template that applies it by default.

/** Explicit embeddings, overrides and isolates: shown, never obeyed (a name must not reorder the text after it). */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text for element content or a quoted attribute value. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c).replace(BIDI_CONTROLS, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase()}]`);
}

/** Only this module holds it: nothing else can make an Html. */
const MINT = Symbol("html");

/** Markup that the `html` tag (or this module's own script and style) made: the only thing inserted unescaped. */
export class Html {
  readonly #markup: string;
  constructor(token: symbol, markup: string) {
    if (token !== MINT) throw new TypeError("Html is made by the html`` tag only");
    this.#markup = markup;
  }
  get markup(): string {
    return this.#markup;
  }
  static is(value: unknown): value is Html {
    return typeof value === "object" && value !== null && #markup in value;
  }
}

export type Interpolation = Html | string | number | undefined | readonly Interpolation[];

/**
 * Where in the markup a template's hole is. Data may go into element text and
 * into the quoted values of a few inert attributes; nowhere else (not in a tag
 * name, an unquoted value, an event handler, a style, a URL, a script or a
 * comment). Each call site is checked once, on its first render.
 */
type Scan =
  | { readonly at: "text" }
  | { readonly at: "tag-name"; readonly name: string; readonly closing: boolean }
  | { readonly at: "tag"; readonly tag: string; readonly closing: boolean }
  | { readonly at: "attr-name"; readonly tag: string; readonly attr: string }
  | { readonly at: "before-value"; readonly tag: string; readonly attr: string }
  | { readonly at: "value"; readonly tag: string; readonly attr: string; readonly quote: string; readonly fragment: boolean }
  | { readonly at: "unquoted"; readonly tag: string; readonly attr: string }
  | { readonly at: "raw-text"; readonly tag: string }
  | { readonly at: "comment" };

const DATA_ATTRIBUTES =
  /^(class|id|lang|dir|title|placeholder|aria-[a-z]+|data-[a-z-]+|width|height|viewbox|x|y|x1|y1|x2|y2|cx|cy|r|points|d|fill|stroke|font-size)$/;
const RAW_TEXT = new Set(["script", "style"]);

function scan(from: Scan, s: string): Scan {
  let st = from;
  let i = 0;
  while (i < s.length) {
    const c = s[i] ?? "";
    switch (st.at) {
      case "text":
        if (s.startsWith("<!--", i)) [st, i] = [{ at: "comment" }, i + 4];
        else if (c === "<")
          [st, i] = s[i + 1] === "/" ? [{ at: "tag-name", name: "", closing: true }, i + 2] : [{ at: "tag-name", name: "", closing: false }, i + 1];
        else i++;
        break;
      case "tag-name":
        if (/[A-Za-z0-9!:-]/.test(c)) [st, i] = [{ ...st, name: st.name + c }, i + 1];
        else st = { at: "tag", tag: st.name.toLowerCase(), closing: st.closing };
        break;
      case "tag":
        if (c === ">") [st, i] = [!st.closing && RAW_TEXT.has(st.tag) ? { at: "raw-text", tag: st.tag } : { at: "text" }, i + 1];
        else if (/[\s/]/.test(c)) i++;
        else st = { at: "attr-name", tag: st.tag, attr: "" };
        break;
      case "attr-name":
        if (c === "=") [st, i] = [{ at: "before-value", tag: st.tag, attr: st.attr }, i + 1];
        else if (/[\s/>]/.test(c)) st = { at: "tag", tag: st.tag, closing: false };
        else [st, i] = [{ ...st, attr: st.attr + c.toLowerCase() }, i + 1];
        break;
      case "before-value":
        // A link within the page (href="#…", the # in the template) cannot leave it, whatever follows.
        if (c === '"' || c === "'") [st, i] = [{ at: "value", tag: st.tag, attr: st.attr, quote: c, fragment: st.attr === "href" && s[i + 1] === "#" }, i + 1];
        else st = { at: "unquoted", tag: st.tag, attr: st.attr };
        break;
      case "value":
        if (c === st.quote) st = { at: "tag", tag: st.tag, closing: false };
        i++;
        break;
      case "unquoted":
        if (/[\s>]/.test(c)) st = { at: "tag", tag: st.tag, closing: false };
        else i++;
        break;
      case "raw-text":
        if (s.slice(i, i + st.tag.length + 2).toLowerCase() === `</${st.tag}`) st = { at: "text" };
        else i++;
        break;
      case "comment":
        if (s.startsWith("-->", i)) [st, i] = [{ at: "text" }, i + 3];
        else i++;
        break;
    }
  }
  return st;
}

type Hole = "text" | "attribute";
const holesOf = new WeakMap<TemplateStringsArray, readonly Hole[]>();

function holes(strings: TemplateStringsArray): readonly Hole[] {
  const known = holesOf.get(strings);
  if (known !== undefined) return known;
  const found: Hole[] = [];
  let st: Scan = { at: "text" };
  for (let i = 0; i < strings.length - 1; i++) {
    st = scan(st, strings[i] ?? "");
    if (st.at === "text") found.push("text");
    else if (st.at === "value" && (DATA_ATTRIBUTES.test(st.attr) || st.fragment)) found.push("attribute");
    else {
      const where = st.at === "value" || st.at === "unquoted" || st.at === "before-value" ? `attribute ${st.attr}` : st.at;
      throw new Error(`html\`\`: no data may go into ${where} (after "${(strings[i] ?? "").slice(-40)}")`);
    }
  }
  holesOf.set(strings, found);
  return found;
}

function interpolate(value: Interpolation, hole: Hole): string {
  if (value === undefined) return "";
  if (Html.is(value)) {
    if (hole === "attribute") throw new Error("html``: markup in an attribute value");
    return value.markup;
  }
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map((v) => interpolate(v, hole)).join("");
  // Whatever a file held (a number where a string was expected, an object), it is text here.
  return esc(String(value));
}

/** The template tag: every interpolation escaped for its place, except markup this tag made. */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): Html {
  const where = holes(strings);
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += interpolate(values[i], where[i] ?? "text") + (strings[i + 1] ?? "");
  return new Html(MINT, out);
}

/** Items joined by a separator, as markup. */
export function join(items: readonly Interpolation[], separator: string): Html {
  return html`${items.flatMap((item, i) => (i === 0 ? [item] : [separator, item]))}`;
}

// ------------------------------------------------------------------------------------------
// The page's own script and style, and the policy that allows exactly them.

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

/** An inline <script> or <style> of a module constant, and its hash for the policy. */
function inline(tag: "script" | "style", body: string): { element: Html; hash: string } {
  // The constant cannot end its element or open a comment that swallows the rest.
  if (/<\/(script|style)|<!--/i.test(body)) throw new Error(`inline ${tag} holds </${tag}> or <!--`);
  return { element: new Html(MINT, `<${tag}>${body}</${tag}>`), hash: sha256(body) };
}

/**
 * Nothing loads (default-src 'none'); the one script and the one style run by
 * hash; no <base>, no form target; DOM sinks take no strings (trusted types).
 * No img-src: the page has no image but inline SVG.
 */
function policy(scriptHash: string | undefined, styleHash: string): Html {
  const csp =
    `default-src 'none'; script-src ${scriptHash ?? "'none'"}; style-src ${styleHash}; base-uri 'none'; form-action 'none'; ` +
    `require-trusted-types-for 'script'; trusted-types 'none'`;
  return new Html(MINT, `<meta http-equiv="Content-Security-Policy" content="${csp}">`);
}

/** An id, address or file name: isolated left-to-right inside RTL text. */
export const ltr = (text: string): Html => html`<bdi dir="ltr">${text}</bdi>`;

/** What every page's style starts with: the box model, the Persian-first fonts, isolated ids, the headings. */
export const PAGE_CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:Vazirmatn,"Noto Sans Arabic","DejaVu Sans",Tahoma,sans-serif;color:#1c1c1c;background:#fff;line-height:1.6}
bdi{unicode-bidi:isolate;font-family:"DejaVu Sans Mono",monospace;font-size:.92em}
h1{font-size:1.5rem;margin:.2em 0}
h2{font-size:1.2rem;margin:1.4em 0 .4em;border-bottom:2px solid #ddd}
`;

/** A page's constant style and (optional) script, hashed once for the policy: build it at module load. */
export interface PageAssets {
  readonly style: { readonly element: Html; readonly hash: string };
  readonly script?: { readonly element: Html; readonly hash: string };
}

export function pageAssets(css: string, script?: string): PageAssets {
  return { style: inline("style", css), ...(script === undefined ? {} : { script: inline("script", script) }) };
}

/** A whole self-contained page: Persian pages right-to-left, the policy first in <head>, the script last in <body>. */
export function htmlPage(o: { readonly lang: Lang; readonly title: Interpolation; readonly assets: PageAssets; readonly body: Html }): string {
  const dir = o.lang === "fa" ? "rtl" : "ltr";
  const page = html`<!DOCTYPE html>
<html lang="${o.lang}" dir="${dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${policy(o.assets.script?.hash, o.assets.style.hash)}
<title>${o.title}</title>
${o.assets.style.element}
</head>
<body>
${o.body}
${o.assets.script?.element}
</body>
</html>
`;
  return page.markup;
}
