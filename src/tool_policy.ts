/**
 * Which upstream tools an execution may call: anchored globs (`github.*`, where `.` is a
 * literal dot and `*` any run of characters), the intersection of the operator's
 * allowlist and the request's, identifiers for the sandbox's `tools` object, and
 * TypeScript signatures from JSON Schemas. Pure.
 */
import type { Denial } from "./permissions.ts";
import type { UpstreamTool } from "./upstreams.ts";

const PATTERN_RE = /^[A-Za-z0-9_*][A-Za-z0-9_.*/:-]{0,199}$/;

/** A tool pattern that cannot be used. */
export class ToolPatternError extends TypeError {
  override name = "ToolPatternError";
}

/** Checks and returns a pattern list from an untrusted request. */
export function parseToolPatterns(raw: unknown): string[] {
  if (!Array.isArray(raw)) {
    throw new ToolPatternError(
      'Invalid allowedTools: expected an array of patterns like "github.*"',
    );
  }
  if (raw.length > 64) throw new ToolPatternError("Invalid allowedTools: more than 64 patterns");
  return raw.map((p, i) => {
    if (typeof p !== "string" || !PATTERN_RE.test(p) || !p.includes(".")) {
      throw new ToolPatternError(
        `Invalid allowedTools[${i}] ${
          JSON.stringify(p)
        }: expected SERVER.TOOL, with * as a wildcard (e.g. "github.*")`,
      );
    }
    return p;
  });
}

/** Security: anchored at both ends; every character but `*` is literal (a dot is a dot). */
export function toolPatternRegExp(pattern: string): RegExp {
  const body = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(
    ".*",
  );
  return new RegExp(`^${body}$`);
}

/**
 * The upstream servers a request's patterns can reach: only those are listed to plan it
 * (an upstream that never answers cost every code-mode run its 15 s connect timeout). A
 * server name has no dot, so a pattern names one server exactly when no `*` comes before
 * its first dot (a `*` there may span the dot: every server).
 */
export function serversNamedBy(patterns: readonly string[], servers: readonly string[]): string[] {
  const named = new Set<string>();
  for (const pattern of patterns) {
    const server = pattern.split(".")[0]!;
    if (server.includes("*") || !pattern.includes(".")) return [...servers];
    named.add(server);
  }
  return servers.filter((s) => named.has(s));
}

export function matchesToolPattern(fullName: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => toolPatternRegExp(p).test(fullName));
}

/**
 * The tools an execution gets: those the request asks for AND the operator allows. A
 * request pattern that reaches a tool the operator does not allow, or no tool at all, is
 * denied (the request is refused before running).
 */
export function resolveToolAccess(
  requested: readonly string[],
  operator: readonly string[],
  tools: readonly UpstreamTool[],
): { allowed: UpstreamTool[]; denied: Denial[] } {
  const denied: Denial[] = [];
  for (const pattern of requested) {
    const matched = tools.filter((t) => matchesToolPattern(t.fullName, [pattern]));
    const beyond = matched.filter((t) => !matchesToolPattern(t.fullName, operator));
    if (!matched.length) {
      denied.push({
        kind: "tool",
        value: pattern,
        reason: "matches no tool of the configured upstream servers",
      });
    } else if (beyond.length) {
      denied.push({
        kind: "tool",
        value: pattern,
        // The tools beyond the allowlist are counted, not named: search_tools hides them too.
        reason: `reaches ${beyond.length} tool${beyond.length === 1 ? "" : "s"} the operator ` +
          `does not allow; ask for tools within: ${operator.join(", ") || "none"}`,
      });
    }
  }
  const allowed = tools.filter((t) =>
    matchesToolPattern(t.fullName, requested) && matchesToolPattern(t.fullName, operator)
  );
  return { allowed, denied };
}

/** A valid, unique JS identifier for a name (`search-issues` -> `search_issues`). */
export function toIdentifier(name: string, taken: Set<string>): string {
  let id = name.replace(/[^A-Za-z0-9_$]/g, "_");
  if (!/^[A-Za-z_$]/.test(id)) id = "_" + id;
  let unique = id;
  for (let n = 2; taken.has(unique); n++) unique = `${id}_${n}`;
  taken.add(unique);
  return unique;
}

/** `{ serverIdent: { toolIdent: [server, tool] } }`: what the sandbox's `tools` object binds. */
export type ToolBindings = Record<string, Record<string, [string, string]>>;

/**
 * The bindings of `tools`, with identifiers given over `universe` (every tool of their
 * servers) and `servers` (every server) in a fixed order, names that are identifiers
 * already first: a tool has the same identifier in search_tools and in every run,
 * whichever others each one sees. Given over each subset, `del_all` and `del-all` swapped
 * names between a search and a run, and code called the other tool.
 */
export function toolBindings(
  tools: readonly UpstreamTool[],
  universe: readonly UpstreamTool[] = tools,
  servers: readonly string[] = [...new Set(universe.map((t) => t.server))],
): ToolBindings {
  const serverIds = identifiers([...servers, ...tools.map((t) => t.server)]);
  const toolIds = new Map<string, Map<string, string>>();
  const idOf = (tool: UpstreamTool) => {
    let ids = toolIds.get(tool.server);
    if (!ids) {
      const names = [...universe, ...tools].filter((t) => t.server === tool.server);
      toolIds.set(tool.server, ids = identifiers(names.map((t) => t.name)));
    }
    return ids.get(tool.name)!;
  };
  const bindings: ToolBindings = {};
  for (const tool of tools) {
    const serverId = serverIds.get(tool.server)!;
    // Own properties only: a server named `constructor` or `toString` would read (and
    // write into) what every object inherits.
    if (!Object.hasOwn(bindings, serverId)) bindings[serverId] = {};
    bindings[serverId]![idOf(tool)] = [tool.server, tool.name];
  }
  return bindings;
}

/** Identifiers for names: those that are identifiers already keep theirs, then the rest. */
function identifiers(names: readonly string[]): Map<string, string> {
  const unique = [...new Set(names)].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  const plain = (n: string) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(n);
  const taken = new Set<string>();
  const ids = new Map<string, string>();
  for (const name of [...unique.filter(plain), ...unique.filter((n) => !plain(n))]) {
    ids.set(name, toIdentifier(name, taken));
  }
  return ids;
}

type Schema = Record<string, unknown>;

/**
 * Schema nodes one type may visit: an upstream's schema is untrusted, and a `type` array
 * at each level multiplies the work (80 types three levels deep: half a million nodes,
 * a 373 MB string and seconds of the conductor's thread).
 */
const MAX_SCHEMA_NODES = 2000;

/**
 * The text one type may take (descriptions, enum values, keys): past it the whole type is
 * `unknown`, before more is built (a property's description is repeated at each visit).
 */
const MAX_TYPE_CHARS = 64 * 1024;

/** A TypeScript type for a JSON Schema (the common subset; anything else is `unknown`). */
export function schemaToType(schema: unknown): string {
  const budget = { nodes: MAX_SCHEMA_NODES, chars: MAX_TYPE_CHARS };
  const type = typeOf(schema, 0, budget);
  return budget.chars < 0 ? "unknown" : type;
}

/** Counts text against the budget; false once it is spent. */
function spend(budget: { chars: number }, text: string): boolean {
  return (budget.chars -= text.length) >= 0;
}

function typeOf(
  schema: unknown,
  depth: number,
  budget: { nodes: number; chars: number },
): string {
  if (
    !schema || typeof schema !== "object" || depth > 8 || --budget.nodes < 0 || budget.chars < 0
  ) return "unknown";
  const inner = (x: unknown, d: number) => typeOf(x, d, budget);
  const s = schema as Schema;
  if (Array.isArray(s.enum)) {
    const values = s.enum.map((v) => JSON.stringify(v) ?? "unknown").join(" | ") || "never";
    return spend(budget, values) ? values : "unknown";
  }
  if ("const" in s) {
    const value = JSON.stringify(s.const) ?? "unknown";
    return spend(budget, value) ? value : "unknown";
  }
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(s[key])) {
      return (s[key] as unknown[]).map((x) => inner(x, depth + 1)).join(" | ");
    }
  }
  const type = s.type;
  if (Array.isArray(type)) {
    // Names only, each once: anything else in the array would walk the rest again.
    const names = [...new Set(type.filter((t) => typeof t === "string"))];
    return names.map((t) => inner({ ...s, type: t }, depth + 1)).join(" | ") || "unknown";
  }
  switch (type) {
    case "string":
      return "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return `Array<${inner(s.items, depth + 1)}>`;
    case "object":
    case undefined: {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set(Array.isArray(s.required) ? s.required as string[] : []);
      const fields = Object.entries(props).map(([k, v]) => {
        const doc = typeof v?.description === "string"
          ? `/** ${v.description.replace(/\*\//g, "* /")} */ `
          : "";
        const key = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k);
        if (!spend(budget, doc + key)) return "";
        return `${doc}${key}${required.has(k) ? "" : "?"}: ${inner(v, depth + 1)}`;
      });
      if (!fields.length) return type === "object" ? "Record<string, unknown>" : "unknown";
      return `{ ${fields.join("; ")} }`;
    }
    default:
      return "unknown";
  }
}

/** The signature of a tool as the sandbox sees it, with its description as a doc comment. */
export function toolSignature(tool: UpstreamTool, serverId: string, toolId: string): string {
  const doc = tool.description ? `/** ${tool.description.replace(/\*\//g, "* /")} */\n` : "";
  const output = tool.outputSchema ? schemaToType(tool.outputSchema) : "unknown";
  return `${doc}tools.${serverId}.${toolId}(args: ${
    schemaToType(tool.inputSchema)
  }): Promise<${output}>` +
    (toolId !== tool.name || serverId !== tool.server ? ` // "${tool.fullName}"` : "");
}
