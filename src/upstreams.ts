/**
 * Upstream MCP servers (config `mcpServers`, the shape Claude Desktop and Cursor use):
 * connected lazily, reconnected after a crash, tool lists cached and refreshed on
 * `notifications/tools/list_changed`. Their credentials stay in the conductor.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { log } from "./log.ts";

/** One upstream as the operator writes it: stdio (`command`) or Streamable HTTP (`url`). */
export type UpstreamConfig =
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
  | { url: string; headers?: Record<string, string> };

/** A tool of an upstream, as listed by it. */
export interface UpstreamTool {
  server: string;
  /** The tool's own name on its server. */
  name: string;
  /** `server.name`: what allowlists match. */
  fullName: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

/** What a tool call gives back to sandboxed code. */
export interface ToolCallOutcome {
  ok: boolean;
  /** Structured content when the upstream gives it, else its text. */
  value?: unknown;
  /** The upstream's or the conductor's error message. */
  error?: string;
}

const CONNECT_TIMEOUT_MS = 15_000;

interface Connection {
  client: Client;
  tools: UpstreamTool[] | undefined;
}

export class Upstreams {
  readonly configs: Record<string, UpstreamConfig>;
  #connections = new Map<string, Promise<Connection>>();

  constructor(configs: Record<string, UpstreamConfig>) {
    this.configs = configs;
  }

  get names(): string[] {
    return Object.keys(this.configs);
  }

  #connect(server: string): Promise<Connection> {
    let pending = this.#connections.get(server);
    if (pending) return pending;
    const config = this.configs[server];
    if (!config) return Promise.reject(new Error(`No upstream server "${server}"`));
    pending = (async () => {
      const client = new Client({ name: "mcp-conductor", version: "0.1.0" });
      const transport = "url" in config
        ? new StreamableHTTPClientTransport(new URL(config.url), {
          requestInit: { headers: config.headers ?? {} },
        })
        : new StdioClientTransport({
          command: config.command,
          args: config.args ?? [],
          env: { ...defaultEnv(), ...(config.env ?? {}) },
          ...(config.cwd ? { cwd: config.cwd } : {}),
          stderr: "ignore",
        });
      const connection: Connection = { client, tools: undefined };
      client.onclose = () => {
        // Crashed or closed: the next use reconnects.
        if (this.#connections.get(server) === pending) this.#connections.delete(server);
      };
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        connection.tools = undefined;
      });
      await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
      return connection;
    })();
    pending.catch(() => this.#connections.delete(server));
    this.#connections.set(server, pending);
    return pending;
  }

  /** The tools of one upstream (cached until it says its list changed). */
  async tools(server: string): Promise<UpstreamTool[]> {
    const connection = await this.#connect(server);
    if (!connection.tools) {
      const listed = await connection.client.listTools(undefined, {
        timeout: CONNECT_TIMEOUT_MS,
      }) as {
        tools: { name: string; description?: string; inputSchema: object; outputSchema?: object }[];
      };
      connection.tools = listed.tools.map((t) => ({
        server,
        name: t.name,
        fullName: `${server}.${t.name}`,
        description: t.description ?? "",
        inputSchema: t.inputSchema as Record<string, unknown>,
        ...(t.outputSchema ? { outputSchema: t.outputSchema as Record<string, unknown> } : {}),
      }));
    }
    return connection.tools;
  }

  /**
   * Every tool of these upstreams (all by default); an upstream that cannot be reached is
   * skipped (logged).
   */
  async allTools(servers: readonly string[] = this.names): Promise<UpstreamTool[]> {
    const lists = await Promise.all(servers.map(async (server) => {
      try {
        return await this.tools(server);
      } catch (error) {
        log(`upstream "${server}" unavailable: ${(error as Error).message}`);
        return [];
      }
    }));
    return lists.flat();
  }

  /**
   * Calls a tool. Never throws: an upstream error, a crash or a timeout is an outcome
   * with `ok: false` and a message.
   */
  async call(
    server: string,
    tool: string,
    args: unknown,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<ToolCallOutcome> {
    try {
      const { client } = await this.#connect(server);
      const result = await client.callTool(
        { name: tool, arguments: (args ?? {}) as Record<string, unknown> },
        undefined,
        {
          timeout: Math.max(1, options.timeoutMs),
          ...(options.signal ? { signal: options.signal } : {}),
        },
      ) as {
        isError?: boolean;
        structuredContent?: unknown;
        content?: { type: string; text?: string }[];
      };
      const text = (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text ?? "")
        .join("\n");
      if (result.isError) return { ok: false, error: text || `${server}.${tool} failed` };
      return { ok: true, value: result.structuredContent ?? text };
    } catch (error) {
      return { ok: false, error: `${server}.${tool}: ${(error as Error).message}` };
    }
  }

  async close(): Promise<void> {
    const pending = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.allSettled(pending.map(async (p) => (await p).client.close()));
  }
}

/** The few env vars an upstream command needs to start (its own come from the config). */
function defaultEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (
    const name of ["PATH", "HOME", "USER", "LANG", "TERM", "SHELL", "TMPDIR", "NODE_EXTRA_CA_CERTS"]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
