/**
 * The two edits the conductor makes to user code before a child runs it, from one parse:
 * - the last top-level expression becomes the default export, so that
 *   `... ; data.stargazers_count` returns that number, as a REPL would;
 * - relative module specifiers (`./lib.ts`, `../x.json`) become `file://` URLs inside the
 *   workspace's files folder, since the code itself is a `data:` URL, which cannot be a
 *   base. Those imports stay permission-checked: they need a read grant like any file.
 *
 * Runs in the conductor on untrusted text: it only parses, never evaluates. Code that
 * does not parse is returned unchanged (Deno then reports the syntax error itself). Edits
 * never add or remove lines, so line numbers in errors stay true.
 */
import { pathToFileURL } from "node:url";

type Parser = typeof import("@babel/parser");
let parser: Promise<Parser> | undefined;

/** Starts loading the parser (about 20 ms once), so that it overlaps with other work. */
export function preloadParser(): Promise<Parser> {
  return parser ??= import("@babel/parser");
}

interface Node {
  type: string;
  start?: number | null;
  end?: number | null;
  value?: unknown;
  source?: Node | null;
  specifiers?: { exported?: { name?: string; value?: string } }[];
  [key: string]: unknown;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function isDefaultExport(node: Node): boolean {
  if (node.type === "ExportDefaultDeclaration") return true;
  if (node.type !== "ExportNamedDeclaration") return false;
  return (node.specifiers ?? []).some((s) =>
    s.exported?.name === "default" || s.exported?.value === "default"
  );
}

function isRelative(specifier: unknown): specifier is string {
  return typeof specifier === "string" && /^\.\.?\//.test(specifier);
}

interface Walk {
  /** Module specifier nodes: static imports and exports, and `import("literal")`. */
  specifiers: Node[];
  /** Whether the code needs the TypeScript transpiler (types, enums, decorators...). */
  typescript: boolean;
}

function collectSpecifiers(node: unknown, out: Walk, depth = 0): void {
  if (!node || typeof node !== "object") return;
  if (depth > 500) {
    out.typescript = true; // too deep to tell: let the transpiler have it
    return;
  }
  if (Array.isArray(node)) {
    for (const child of node) collectSpecifiers(child, out, depth + 1);
    return;
  }
  const n = node as Node;
  if (
    (typeof n.type === "string" && n.type.startsWith("TS")) || n.type === "Decorator" ||
    n.importKind === "type" ||
    n.exportKind === "type" || n.typeAnnotation || n.typeParameters || n.typeArguments
  ) out.typescript = true;
  if (
    (n.type === "ImportDeclaration" || n.type === "ExportAllDeclaration" ||
      n.type === "ExportNamedDeclaration") && n.source
  ) {
    out.specifiers.push(n.source);
  } else if (
    n.type === "ImportExpression" && (n.source as Node | undefined)?.type === "StringLiteral"
  ) {
    out.specifiers.push(n.source as Node);
  } else if (n.type === "CallExpression" && (n.callee as Node | undefined)?.type === "Import") {
    const first = (n.arguments as Node[] | undefined)?.[0];
    if (first?.type === "StringLiteral") out.specifiers.push(first);
  }
  for (const [key, value] of Object.entries(n)) {
    if (key !== "loc" && key !== "extra" && value && typeof value === "object") {
      collectSpecifiers(value, out, depth + 1);
    }
  }
}

/** Applies non-overlapping edits in one pass (one copy of the code, however many edits). */
function applyEdits(code: string, edits: Edit[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start || a.end - b.end)) {
    parts.push(code.slice(at, edit.start), edit.text);
    at = edit.end;
  }
  parts.push(code.slice(at));
  return parts.join("");
}

/**
 * At most this many `<` in code that needs TypeScript's ambiguous `<T>(` or `<T>x`: Babel
 * parses each such construct twice (as a generic arrow, then as a type assertion), nested
 * ones in exponential time: 16 nested took 1.5 s, 20 took 23 s, on the main thread.
 */
const MAX_AMBIGUOUS_ANGLES = 10;

/**
 * Code larger than this is passed through untouched: parsing runs on the conductor's main
 * thread, and 4 MB of hostile code can hold it (and every other run's timers) for seconds.
 */
export const MAX_TRANSFORM_CHARS = 256 * 1024;

export interface PreparedCode {
  code: string;
  /** False when the code is plain JavaScript: the child then skips the transpiler. */
  typescript: boolean;
}

/** Rewrites code for the bootstrap; `filesDir` is the folder relative specifiers mean. */
export async function prepareCode(code: string, filesDir: string): Promise<PreparedCode> {
  const unchanged = { code, typescript: true };
  if (code.length > MAX_TRANSFORM_CHARS) return unchanged;
  const { parse } = await preloadParser();
  // Security: first without TypeScript's ambiguous `<T>(...)` forms, which Babel resolves by
  // backtracking (exponential on nested input); they are tried only in code with few `<`.
  const parseWith = (ambiguous: boolean) =>
    parse(code, {
      sourceType: "module",
      allowAwaitOutsideFunction: true,
      plugins: [
        ["typescript", { disallowAmbiguousJSXLike: !ambiguous }],
        "explicitResourceManagement",
      ],
    }).program;
  let program: ReturnType<typeof parseWith>;
  try {
    program = parseWith(false);
  } catch {
    try {
      if (code.split("<").length - 1 > MAX_AMBIGUOUS_ANGLES) return unchanged;
      program = parseWith(true);
    } catch {
      return unchanged;
    }
  }
  const body = program.body as unknown as Node[];
  const directives = program.directives as unknown as Node[];
  const edits: Edit[] = [];
  const base = pathToFileURL(filesDir.endsWith("/") ? filesDir : filesDir + "/");
  const walk: Walk = { specifiers: [], typescript: false };
  try {
    collectSpecifiers(body, walk);
  } catch {
    return unchanged; // never fail a run over this: Deno will load the code as written
  }
  for (const node of walk.specifiers) {
    if (isRelative(node.value) && node.start != null && node.end != null) {
      edits.push({
        start: node.start,
        end: node.end,
        text: JSON.stringify(new URL(node.value, base).href),
      });
    }
  }
  // A program that is only a string literal (`'hi'`) parses as a directive.
  const last = body.at(-1) ?? directives.at(-1);
  if (
    !body.some(isDefaultExport) &&
    (last?.type === "ExpressionStatement" || last?.type === "Directive") &&
    last.start != null && last.end != null
  ) {
    // The whole statement, parentheses included, without its semicolon.
    const expressionEnd = last.start + code.slice(last.start, last.end).replace(/;\s*$/, "").length;
    edits.push({ start: last.start, end: last.start, text: "export default (" });
    edits.push({ start: expressionEnd, end: last.end, text: ");" });
  }
  return { code: edits.length ? applyEdits(code, edits) : code, typescript: walk.typescript };
}
