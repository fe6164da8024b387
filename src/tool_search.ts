/**
 * `search_tools`: the upstream tools an operator allows, found by words, with their
 * schema and sandbox signature on request. Pure.
 */
import { matchesToolPattern, toolBindings, toolSignature } from "./tool_policy.ts";
import type { UpstreamTool } from "./upstreams.ts";

export interface ToolSearchQuery {
  query?: string | undefined;
  server?: string | undefined;
  detail?: boolean | undefined;
  limit?: number | undefined;
}

export interface FoundTool {
  name: string;
  description: string;
  inputSchema?: Record<string, unknown>;
  signature?: string;
}

/**
 * `tools`: every tool of the upstreams that answered; `servers`: every configured server
 * (identifiers are given over all of them, as in runs).
 */
export function searchTools(
  tools: readonly UpstreamTool[],
  allow: readonly string[],
  q: ToolSearchQuery,
  servers?: readonly string[],
): FoundTool[] {
  const words = (q.query ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const scored = tools
    .filter((t) => matchesToolPattern(t.fullName, allow))
    .filter((t) => q.server === undefined || t.server === q.server)
    .map((t) => {
      const text = `${t.fullName} ${t.description}`.toLowerCase();
      return { t, score: words.filter((w) => text.includes(w)).length };
    })
    .filter(({ score }) => !words.length || score > 0)
    .sort((a, b) => b.score - a.score || a.t.fullName.localeCompare(b.t.fullName))
    .slice(0, q.limit ?? 20);
  const bindings = toolBindings(
    scored.map(({ t }) => t),
    tools,
    servers ?? [...new Set(tools.map((t) => t.server))],
  );
  const ids = new Map<string, [string, string]>();
  for (const [serverId, entries] of Object.entries(bindings)) {
    for (const [toolId, [server, name]] of Object.entries(entries)) {
      ids.set(`${server}.${name}`, [serverId, toolId]);
    }
  }
  return scored.map(({ t }) => {
    const found: FoundTool = { name: t.fullName, description: t.description.split("\n")[0] ?? "" };
    if (q.detail) {
      const [serverId, toolId] = ids.get(t.fullName)!;
      found.inputSchema = t.inputSchema;
      found.signature = toolSignature(t, serverId, toolId);
    }
    return found;
  });
}
