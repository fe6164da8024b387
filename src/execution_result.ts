/**
 * The structured record of one execution, as DESIGN.md fixes it. Shared by the CLI
 * (`--json`) and the MCP server (`structuredContent`).
 */
import type { Denial, Permissions } from "./permissions.ts";

export type ExecutionStatus =
  | "success"
  | "error"
  | "rejected"
  | "timeout"
  | "memory_limit"
  | "output_limit"
  | "cancelled"
  | "install_error";

export interface ExecutionError {
  /** JS class (SyntaxError, TypeError, NotCapable...) or the limit/policy that fired. */
  type: string;
  message: string;
  stack?: string;
}

export interface ExecutionResult {
  status: ExecutionStatus;
  /** JSON of the default export or the last top-level expression; absent when undefined. */
  returnValue?: unknown;
  stdout: string;
  stderr: string;
  truncated: { stdout: boolean; stderr: boolean };
  error?: ExecutionError;
  permissions: { granted: Permissions; denied: Denial[] };
  conversationId: string;
  durationMs: number;
  exitCode?: number;
  signal?: string;
  /** Things the caller should know that are not failures (e.g. the workspace is over quota). */
  warnings?: string[];
}
