/**
 * Makes the last top-level expression of a module its default export, so that
 * `... ; data.stargazers_count` returns that number, as a REPL would.
 *
 * Runs in the conductor on untrusted text: it only parses, never evaluates. Code that
 * does not parse, or that has its own default export, is returned unchanged (Deno then
 * reports the syntax error itself, with its own message).
 */

type Parser = typeof import("@babel/parser");
let parser: Promise<Parser> | undefined;

/** Starts loading the parser (about 20 ms once), so that it overlaps with a spawn. */
export function preloadParser(): Promise<Parser> {
  return parser ??= import("@babel/parser");
}

interface Node {
  type: string;
  start?: number | null;
  end?: number | null;
  specifiers?: { exported?: { name?: string; value?: string } }[];
}

function isDefaultExport(node: Node): boolean {
  if (node.type === "ExportDefaultDeclaration") return true;
  if (node.type !== "ExportNamedDeclaration") return false;
  return (node.specifiers ?? []).some((s) =>
    s.exported?.name === "default" || s.exported?.value === "default"
  );
}

export async function exposeLastExpression(code: string): Promise<string> {
  const { parse } = await preloadParser();
  let body: Node[];
  let directives: Node[];
  try {
    const { program } = parse(code, {
      sourceType: "module",
      allowAwaitOutsideFunction: true,
      plugins: ["typescript", "explicitResourceManagement"],
    });
    body = program.body as Node[];
    directives = program.directives as Node[];
  } catch {
    return code;
  }
  if (body.some(isDefaultExport)) return code;
  // A program that is only a string literal (`'hi'`) parses as a directive.
  const last = body.at(-1) ?? directives.at(-1);
  if (last?.type !== "ExpressionStatement" && last?.type !== "Directive") return code;
  if (last.start == null || last.end == null) return code;
  // The whole statement, parentheses included, without its semicolon.
  const expression = code.slice(last.start, last.end).replace(/;\s*$/, "");
  return code.slice(0, last.start) + "export default (" + expression + ");" + code.slice(last.end);
}
