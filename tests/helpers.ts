/**
 * Test helpers: a sandbox on a temporary workspaces folder, and a loopback HTTP server.
 */
import { resolveConfig, type ResolvedConfig } from "../src/config.ts";
import type { Ceiling } from "../src/permissions.ts";
import { Sandbox } from "../src/sandbox.ts";

export interface TestSandbox {
  sandbox: Sandbox;
  config: ResolvedConfig;
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A sandbox whose workspaces live in a fresh temporary folder. The children's DENO_DIR
 * is shared between tests (it only caches) so that runs stay fast.
 */
export async function testSandbox(
  ceiling: Partial<Ceiling> = {},
  extra: Record<string, unknown> = {},
): Promise<TestSandbox> {
  const dir = await Deno.makeTempDir({ prefix: "conductor-test-" });
  const config = resolveConfig({
    workspacesDir: dir,
    denoDir: sharedDenoDir(),
    ceiling,
    ...extra,
  });
  const sandbox = new Sandbox(config);
  return {
    sandbox,
    config,
    dir,
    async [Symbol.asyncDispose]() {
      // Closing first: a pending audit line or refill would land in a removed folder.
      await sandbox.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export function sharedDenoDir(): string {
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/conductor-test-deno-dir`;
}

/** An HTTP server on 127.0.0.1 with a random port, answering "pong". */
export function loopbackServer(): Deno.HttpServer<Deno.NetAddr> & { port: number } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("pong"),
  );
  return Object.assign(server, { port: server.addr.port });
}

/**
 * A conductor's stderr without Deno's own download lines, which a first run on a fresh
 * machine prints while it fills its module cache.
 */
export function withoutDenoDownloads(stderr: string): string {
  return stderr.replace(/^Download https?:\/\/\S+\n/gm, "");
}

/** `setpriv` arguments that run a command as `nobody`, when the tests run as root. */
export const AS_NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];
