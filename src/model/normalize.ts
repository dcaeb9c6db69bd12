/**
 * Persian text that looks the same must compare the same. Inventories mix
 * Arabic and Persian code points (ي/ی, ك/ک), Persian and Arabic-Indic digits,
 * zero-width non-joiners, tatweel and diacritics; `normalizeName` folds them.
 */
const FOLD: Record<string, string> = {
  "\u064A": "\u06CC", // Arabic yeh → Persian yeh
  "\u0649": "\u06CC", // alef maksura → Persian yeh
  "\u0643": "\u06A9", // Arabic kaf → keheh
};

// ZWNJ, ZWJ, tatweel, Arabic diacritics (harakat, tanwin, shadda, sukun, superscript alef).
const DROP = /\u200C|\u200D|\u0640|\u0670|[\u064B-\u065F]/g;
const DIGITS = /[\u06F0-\u06F9\u0660-\u0669]/g;
const LETTERS = /[\u064A\u0649\u0643]/g;

/** Persian (۰–۹) and Arabic-Indic (٠–٩) digits to ASCII; nothing else changes. */
export function asciiDigits(text: string): string {
  return text.replace(DIGITS, (d) => {
    const code = d.charCodeAt(0);
    return String(code >= 0x06f0 ? code - 0x06f0 : code - 0x0660);
  });
}

// Compatibility forms (Arabic presentation forms, ligatures, full-width
// letters) are outside these ranges; only names holding one need NFKC.
const PLAIN_RANGES = /^[\u0020-\u024F\u0600-\u06FF\u200C\u200D\s]*$/;

/** The comparison key of a name. */
export function normalizeName(name: string): string {
  const composed = PLAIN_RANGES.test(name) ? name : name.normalize("NFKC");
  return asciiDigits(composed.replace(LETTERS, (c) => FOLD[c] ?? c).replace(DROP, ""))
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
}

/**
 * Bidirectional controls can make the text a reviewer sees differ from what
 * is stored ("trojan source"); the inventory refuses them anywhere.
 */
export const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

export function codePointName(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}
