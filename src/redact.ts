/**
 * Secrets out of what the conductor writes down (audit log, stderr logs): known secret
 * values, operator patterns, and common token shapes.
 */

/**
 * Token shapes common enough to redact everywhere. Private keys are not among them: as a
 * regex (BEGIN, anything, END) a text of many BEGINs and no END costs quadratic time, and
 * code chooses what the conductor redacts (its output, its error's name): see
 * `redactPrivateKeys`.
 */
export const TOKEN_PATTERNS: readonly RegExp[] = [
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g,
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\bnpm_[A-Za-z0-9]{36}\b/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g,
  /\b((?:Bearer|Basic|token)\s+)[A-Za-z0-9._~+/-]{8,}=*/gi,
  /\b((?:api[_-]?key|secret|password|passwd|token|auth)["']?\s*[:=]\s*["']?)[^\s"',;]{6,}/gi,
];

export const REDACTED = "[REDACTED]";

const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/g;
const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/g;

/**
 * PEM private keys, from a BEGIN line to the next END line, in linear time: each search
 * starts where the last one stopped, and with no END left, no later BEGIN can have one.
 */
export function redactPrivateKeys(text: string): string {
  if (!text.includes("PRIVATE KEY-----")) return text;
  let out = "";
  let from = 0;
  while (true) {
    KEY_BEGIN.lastIndex = from;
    const begin = KEY_BEGIN.exec(text);
    if (!begin) break;
    KEY_END.lastIndex = begin.index + begin[0].length;
    const end = KEY_END.exec(text);
    if (!end) break;
    out += text.slice(from, begin.index) + REDACTED;
    from = end.index + end[0].length;
  }
  return out + text.slice(from);
}

/**
 * One test for every token shape at once (case-insensitive: it may match more than the
 * patterns, never less): most strings match none and skip the ten replaces.
 */
const ANY_TOKEN = new RegExp(TOKEN_PATTERNS.map((re) => `(?:${re.source})`).join("|"), "i");

export interface Redactor {
  (text: string): string;
}

/**
 * Builds a redactor for exact secret values (shorter than 4 characters are ignored, they
 * would hide too much) and operator patterns (regex source strings).
 */
export function makeRedactor(
  secrets: readonly string[] = [],
  patterns: readonly string[] = [],
): Redactor {
  const values = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) =>
    b.length - a.length
  );
  const extra = patterns.map((p) => new RegExp(p, "g"));
  const all = [...TOKEN_PATTERNS, ...extra];
  return (text: string) => {
    let out = redactPrivateKeys(text);
    for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED);
    // Operator patterns are run one by one: their back-references would break in a union.
    for (const re of ANY_TOKEN.test(out) ? all : extra) {
      out = out.replace(
        re,
        (match, prefix) =>
          typeof prefix === "string" && match.startsWith(prefix) && prefix !== match
            ? prefix + REDACTED
            : REDACTED,
      );
    }
    return out;
  };
}

/** Applies a redactor to every string inside a JSON-like value. */
export function redactDeep<T>(value: T, redact: Redactor): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact)]),
    ) as T;
  }
  return value;
}
