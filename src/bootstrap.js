/**
 * The trusted module every sandbox child starts with. It runs with exactly the child's
 * permissions, so it holds no secret but the per-execution nonce.
 *
 * Protocol (see `frames.ts`):
 * - stdin: one JSON line `{ nonce, code, maxReturnBytes }`, written by the conductor.
 * - stdout: the code's own output, plus frames `\x1e<nonce><json>\x1e` that the conductor
 *   strips out. Frames carry the return value or the uncaught error. User code never sees
 *   the nonce (it is read before the code is imported and kept in this module's scope),
 *   so it cannot forge a frame by printing.
 *
 * Security: the code is imported as a data URL through a non-analyzable dynamic import,
 * so every local module it imports (including `with { type: "json" }`) is
 * permission-checked; a static import graph would read host files with no permission.
 *
 * This file must import nothing: it runs in every child, before any user code.
 *
 * Plain JavaScript on purpose: children run with the transpile cache off
 * (DENO_EMIT_CACHE_MODE=disable), and a TypeScript bootstrap would be transpiled on
 * every start.
 */

// Captured before user code runs, so that user code replacing globals cannot reach the
// frame writer.
const stdout = Deno.stdout;
const stderr = Deno.stderr;
const writeOut = stdout.writeSync.bind(stdout);
const writeErr = stderr.writeSync.bind(stderr);
const readIn = Deno.stdin.read.bind(Deno.stdin);
const stringify = JSON.stringify;
const parseJson = JSON.parse;
const encoder = new TextEncoder();
const encode = encoder.encode.bind(encoder);
const decoder = new TextDecoder();
const decode = decoder.decode.bind(decoder);
const exit = Deno.exit;
const denoNamespace = Deno;
const inspect = Deno.inspect;
const addListener = globalThis.addEventListener.bind(globalThis);
const isArray = Array.isArray;
const objectKeys = Object.keys;
const getPrototypeOf = Object.getPrototypeOf;
const ownBootstrap = import.meta.url;
const MARK = "\x1e";
// Lines from stdin: the header first, then one reply per tool call. Bytes past a newline
// are kept for the next line.
let pendingBytes = new Uint8Array(0);
async function readLine() {
  const parts = [
    pendingBytes,
  ];
  let total = pendingBytes.length;
  let nl = pendingBytes.indexOf(10);
  while (nl === -1) {
    const buf = new Uint8Array(64 * 1024);
    const n = await readIn(buf);
    if (n === null) {
      if (!total) return null;
      break;
    }
    const chunk = buf.subarray(0, n);
    const at = chunk.indexOf(10);
    if (at !== -1) nl = total + at;
    parts.push(chunk);
    total += n;
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  const end = nl === -1 ? total : nl;
  pendingBytes = all.slice(end + 1);
  return decode(all.subarray(0, end));
}
async function readHeader() {
  return parseJson(await readLine() ?? "{}");
}
const header = await readHeader();
const nonce = header.nonce;
const codeUrl =
  `data:application/${header.typescript === false ? "javascript" : "typescript"};base64,` +
  encode(header.code).toBase64();
let errorSent = false;
function writeAll(write, bytes) {
  try {
    let off = 0;
    while (off < bytes.length) off += write(bytes.subarray(off));
    return true;
  } catch {
    return false; // the code closed the stream
  }
}
/** Writes one frame on stdout, or on stderr when the code closed stdout. */ function sendFrame(
  message,
) {
  const bytes = encode(MARK + nonce + stringify(message) + MARK);
  if (!writeAll(writeOut, bytes)) writeAll(writeErr, bytes);
}
/**
 * Names the code `code.ts` in a stack or message (Deno prints the data URL, abbreviated
 * when long), and drops this module's frames.
 */ function clean(text) {
  return text.split(codeUrl).join("code.ts").replace(
    /data:[^\s()"']*?base64,[A-Za-z0-9+/=.\u2026]*/g,
    "code.ts",
  ).split("\n").filter((line) => !line.includes(ownBootstrap)).join("\n");
}
const DENIED = /Requires \w+ access to "[^"]*", run again with the --allow-\w+ flag/;
function describeError(error) {
  if (error instanceof Error) {
    let type = error.name || error.constructor?.name || "Error";
    let message = clean(String(error.message));
    let stack = typeof error.stack === "string" ? clean(error.stack) : undefined;
    // Deno reports code that does not parse as a TypeError whose message starts with
    // "SyntaxError: "; report it as what it is.
    if (type === "TypeError" && message.startsWith("SyntaxError: ")) {
      type = "SyntaxError";
      message = message.slice("SyntaxError: ".length);
      stack = stack?.replace(/^TypeError: SyntaxError: /, "SyntaxError: ");
    }
    // A permission denial is NotCapable wherever it surfaces: an import of an ungranted
    // file is a TypeError with Deno's "Requires ... access" message, and a fetch that
    // resolves to a denied address is "fetch failed" with the denial as its cause.
    const cause = error.cause;
    if (cause instanceof Error && cause.message) {
      const denial = DENIED.exec(cause.message);
      if (denial) {
        type = "NotCapable";
        message = clean(denial[0]);
      } else message += ` (cause: ${cause.name}: ${clean(cause.message)})`;
    } else if (type === "TypeError" && message.startsWith("Requires ")) {
      type = "NotCapable";
    }
    return stack === undefined
      ? {
        type,
        message,
      }
      : {
        type,
        message,
        stack,
      };
  }
  return {
    type: "Uncaught",
    message: clean(inspect(error)),
  };
}
/**
 * Converts a value to JSON-safe data. JSON values stay as they are; the rest gets a
 * tagged rendering: `{ $bigint }`, `{ $function }`, `{ $symbol }`, `{ $number }` for NaN
 * and infinities, `{ $circular }`, `{ $map }`, `{ $set }`, `{ $error }`, `{ $undefined }`.
 */ function toJsonSafe(value, ancestors = []) {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : {
        $number: String(value),
      };
    case "bigint":
      return {
        $bigint: value.toString(),
      };
    case "undefined":
      return {
        $undefined: true,
      };
    case "symbol":
      return {
        $symbol: value.description ?? "",
      };
    case "function":
      return {
        $function: value.name || "(anonymous)",
      };
  }
  if (value === null) return null;
  if (ancestors.includes(value)) {
    return {
      $circular: true,
    };
  }
  if (ancestors.length > 200) {
    return {
      $truncated: "nesting deeper than 200",
    };
  }
  const next = [
    ...ancestors,
    value,
  ];
  const obj = value;
  if (typeof obj.toJSON === "function") return toJsonSafe(obj.toJSON(), next);
  if (value instanceof Error) {
    return {
      $error: describeError(value),
    };
  }
  if (value instanceof Map) {
    return {
      $map: [
        ...value,
      ].map(([k, v]) => [
        toJsonSafe(k, next),
        toJsonSafe(v, next),
      ]),
    };
  }
  if (value instanceof Set) {
    return {
      $set: [
        ...value,
      ].map((v) => toJsonSafe(v, next)),
    };
  }
  if (isArray(value)) return value.map((v) => v === undefined ? null : toJsonSafe(v, next));
  if (ArrayBuffer.isView(value)) {
    return {
      $bytes: value.byteLength,
    };
  }
  const out = {};
  for (const key of objectKeys(obj)) {
    const v = obj[key];
    if (v !== undefined && typeof v !== "function" && typeof v !== "symbol") {
      out[key] = toJsonSafe(v, next);
    }
  }
  const proto = getPrototypeOf(value);
  if (
    proto !== null && proto !== Object.prototype && proto.constructor?.name &&
    !objectKeys(out).length
  ) {
    return {
      $object: proto.constructor.name,
    };
  }
  return out;
}
/** Reports an uncaught error (also one thrown by a timer after the result) and exits. */ function reportError(
  error,
) {
  if (errorSent) return;
  errorSent = true;
  sendFrame({
    t: "error",
    error: describeError(error),
  });
  exit(1);
}
// When the event loop has run dry (or on Deno.exit), every byte the code wrote is in the
// pipes: say so on both streams, so that the conductor can stop waiting for the process's
// teardown. Nothing of the code runs after this but "unload" listeners it added later.
addListener("unload", () => {
  const bytes = encode(
    MARK + nonce + stringify({
      t: "exit",
      code: denoNamespace.exitCode,
    }) + MARK,
  );
  writeAll(writeOut, bytes);
  writeAll(writeErr, bytes);
});
addListener("error", (event) => {
  event.preventDefault();
  reportError(event.error);
});
addListener("unhandledrejection", (event) => {
  event.preventDefault();
  reportError(event.reason);
});
// Code mode: a `tools` object whose functions send call frames and wait for the reply
// lines. stdin is read only while a call is pending, so that an idle channel never keeps
// the process alive.
if (header.tools) {
  const pending = new Map();
  let nextId = 0;
  let reading = false;
  const readReplies = async () => {
    reading = true;
    try {
      while (pending.size) {
        const line = await readLine();
        if (line === null) {
          for (const p of pending.values()) p.reject(new Error("The tool channel closed"));
          pending.clear();
          break;
        }
        const reply = parseJson(line);
        const waiter = pending.get(reply.id);
        if (!waiter) continue;
        pending.delete(reply.id);
        if (reply.ok) waiter.resolve(reply.value);
        else waiter.reject(new Error(reply.error ?? "The tool call failed"));
      }
    } finally {
      reading = false;
    }
  };
  const call = (server, tool, args) => {
    const id = ++nextId;
    const promise = new Promise((resolve, reject) =>
      pending.set(id, {
        resolve,
        reject,
      })
    );
    sendFrame({
      t: "call",
      id,
      server,
      tool,
      args: args ?? {},
    });
    if (!reading) readReplies();
    return promise;
  };
  const tools = {};
  for (const [serverId, entries] of Object.entries(header.tools)) {
    const fns = {};
    for (const [toolId, [server, tool]] of Object.entries(entries)) {
      fns[toolId] = (args) => call(server, tool, args);
    }
    tools[serverId] = Object.freeze(fns);
  }
  Object.defineProperty(globalThis, "tools", {
    value: Object.freeze(tools),
    enumerable: false,
  });
}
let value;
try {
  const mod = await import(codeUrl);
  value = mod.default;
  if (value && typeof value.then === "function") value = await value;
} catch (error) {
  reportError(error);
}
// The value is reported once, when the module has finished evaluating. Timers and
// servers the code left behind keep running until they end or a limit fires.
if (!errorSent) {
  try {
    const message = value === undefined
      ? {
        t: "result",
      }
      : {
        t: "result",
        value: toJsonSafe(value),
      };
    const size = stringify(message).length;
    if (size > header.maxReturnBytes) {
      throw new RangeError(
        `The return value is ${size} bytes as JSON; the limit is ${header.maxReturnBytes}`,
      );
    }
    sendFrame(message);
  } catch (error) {
    reportError(error);
  }
}
//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozLCJzb3VyY2VzIjpbImZpbGU6Ly8vd29yay9tYWluL3NyYy9ib290c3RyYXAudHMiXSwic291cmNlc0NvbnRlbnQiOlsiLyoqXG4gKiBUaGUgdHJ1c3RlZCBtb2R1bGUgZXZlcnkgc2FuZGJveCBjaGlsZCBzdGFydHMgd2l0aC4gSXQgcnVucyB3aXRoIGV4YWN0bHkgdGhlIGNoaWxkJ3NcbiAqIHBlcm1pc3Npb25zLCBzbyBpdCBob2xkcyBubyBzZWNyZXQgYnV0IHRoZSBwZXItZXhlY3V0aW9uIG5vbmNlLlxuICpcbiAqIFByb3RvY29sIChzZWUgYGZyYW1lcy50c2ApOlxuICogLSBzdGRpbjogb25lIEpTT04gbGluZSBgeyBub25jZSwgY29kZSwgbWF4UmV0dXJuQnl0ZXMgfWAsIHdyaXR0ZW4gYnkgdGhlIGNvbmR1Y3Rvci5cbiAqIC0gc3Rkb3V0OiB0aGUgY29kZSdzIG93biBvdXRwdXQsIHBsdXMgZnJhbWVzIGBcXHgxZTxub25jZT48anNvbj5cXHgxZWAgdGhhdCB0aGUgY29uZHVjdG9yXG4gKiAgIHN0cmlwcyBvdXQuIEZyYW1lcyBjYXJyeSB0aGUgcmV0dXJuIHZhbHVlIG9yIHRoZSB1bmNhdWdodCBlcnJvci4gVXNlciBjb2RlIG5ldmVyIHNlZXNcbiAqICAgdGhlIG5vbmNlIChpdCBpcyByZWFkIGJlZm9yZSB0aGUgY29kZSBpcyBpbXBvcnRlZCBhbmQga2VwdCBpbiB0aGlzIG1vZHVsZSdzIHNjb3BlKSxcbiAqICAgc28gaXQgY2Fubm90IGZvcmdlIGEgZnJhbWUgYnkgcHJpbnRpbmcuXG4gKlxuICogU2VjdXJpdHk6IHRoZSBjb2RlIGlzIGltcG9ydGVkIGFzIGEgZGF0YSBVUkwgdGhyb3VnaCBhIG5vbi1hbmFseXphYmxlIGR5bmFtaWMgaW1wb3J0LFxuICogc28gZXZlcnkgbG9jYWwgbW9kdWxlIGl0IGltcG9ydHMgKGluY2x1ZGluZyBgd2l0aCB7IHR5cGU6IFwianNvblwiIH1gKSBpc1xuICogcGVybWlzc2lvbi1jaGVja2VkOyBhIHN0YXRpYyBpbXBvcnQgZ3JhcGggd291bGQgcmVhZCBob3N0IGZpbGVzIHdpdGggbm8gcGVybWlzc2lvbi5cbiAqXG4gKiBUaGlzIGZpbGUgbXVzdCBpbXBvcnQgbm90aGluZzogaXQgcnVucyBpbiBldmVyeSBjaGlsZCwgYmVmb3JlIGFueSB1c2VyIGNvZGUuXG4gKi9cblxuLy8gQ2FwdHVyZWQgYmVmb3JlIHVzZXIgY29kZSBydW5zLCBzbyB0aGF0IHVzZXIgY29kZSByZXBsYWNpbmcgZ2xvYmFscyBjYW5ub3QgcmVhY2ggdGhlXG4vLyBmcmFtZSB3cml0ZXIuXG5jb25zdCBzdGRvdXQgPSBEZW5vLnN0ZG91dDtcbmNvbnN0IHN0ZGVyciA9IERlbm8uc3RkZXJyO1xuY29uc3Qgd3JpdGVPdXQgPSBzdGRvdXQud3JpdGVTeW5jLmJpbmQoc3Rkb3V0KTtcbmNvbnN0IHdyaXRlRXJyID0gc3RkZXJyLndyaXRlU3luYy5iaW5kKHN0ZGVycik7XG5jb25zdCByZWFkSW4gPSBEZW5vLnN0ZGluLnJlYWQuYmluZChEZW5vLnN0ZGluKTtcbmNvbnN0IHN0cmluZ2lmeSA9IEpTT04uc3RyaW5naWZ5O1xuY29uc3QgcGFyc2VKc29uID0gSlNPTi5wYXJzZTtcbmNvbnN0IGVuY29kZXIgPSBuZXcgVGV4dEVuY29kZXIoKTtcbmNvbnN0IGVuY29kZSA9IGVuY29kZXIuZW5jb2RlLmJpbmQoZW5jb2Rlcik7XG5jb25zdCBkZWNvZGVyID0gbmV3IFRleHREZWNvZGVyKCk7XG5jb25zdCBkZWNvZGUgPSBkZWNvZGVyLmRlY29kZS5iaW5kKGRlY29kZXIpO1xuY29uc3QgZXhpdCA9IERlbm8uZXhpdDtcbmNvbnN0IGRlbm9OYW1lc3BhY2UgPSBEZW5vO1xuY29uc3QgaW5zcGVjdCA9IERlbm8uaW5zcGVjdDtcbmNvbnN0IGFkZExpc3RlbmVyID0gZ2xvYmFsVGhpcy5hZGRFdmVudExpc3RlbmVyLmJpbmQoZ2xvYmFsVGhpcyk7XG5jb25zdCBpc0FycmF5ID0gQXJyYXkuaXNBcnJheTtcbmNvbnN0IG9iamVjdEtleXMgPSBPYmplY3Qua2V5cztcbmNvbnN0IGdldFByb3RvdHlwZU9mID0gT2JqZWN0LmdldFByb3RvdHlwZU9mO1xuY29uc3Qgb3duQm9vdHN0cmFwID0gaW1wb3J0Lm1ldGEudXJsO1xuY29uc3QgTUFSSyA9IFwiXFx4MWVcIjtcblxuaW50ZXJmYWNlIEhlYWRlciB7XG4gIG5vbmNlOiBzdHJpbmc7XG4gIGNvZGU6IHN0cmluZztcbiAgbWF4UmV0dXJuQnl0ZXM6IG51bWJlcjtcbiAgLyoqIGB7IHNlcnZlcklkOiB7IHRvb2xJZDogW3NlcnZlciwgdG9vbF0gfSB9YDogdGhlIHVwc3RyZWFtIHRvb2xzIHRoaXMgZXhlY3V0aW9uIG1heSBjYWxsLiAqL1xuICB0b29scz86IFJlY29yZDxzdHJpbmcsIFJlY29yZDxzdHJpbmcsIFtzdHJpbmcsIHN0cmluZ10+Pjtcbn1cblxuLy8gTGluZXMgZnJvbSBzdGRpbjogdGhlIGhlYWRlciBmaXJzdCwgdGhlbiBvbmUgcmVwbHkgcGVyIHRvb2wgY2FsbC4gQnl0ZXMgcGFzdCBhIG5ld2xpbmVcbi8vIGFyZSBrZXB0IGZvciB0aGUgbmV4dCBsaW5lLlxubGV0IHBlbmRpbmdCeXRlcyA9IG5ldyBVaW50OEFycmF5KDApO1xuXG5hc3luYyBmdW5jdGlvbiByZWFkTGluZSgpOiBQcm9taXNlPHN0cmluZyB8IG51bGw+IHtcbiAgY29uc3QgcGFydHM6IFVpbnQ4QXJyYXlbXSA9IFtwZW5kaW5nQnl0ZXNdO1xuICBsZXQgdG90YWwgPSBwZW5kaW5nQnl0ZXMubGVuZ3RoO1xuICBsZXQgbmwgPSBwZW5kaW5nQnl0ZXMuaW5kZXhPZigxMCk7XG4gIHdoaWxlIChubCA9PT0gLTEpIHtcbiAgICBjb25zdCBidWYgPSBuZXcgVWludDhBcnJheSg2NCAqIDEwMjQpO1xuICAgIGNvbnN0IG4gPSBhd2FpdCByZWFkSW4oYnVmKTtcbiAgICBpZiAobiA9PT0gbnVsbCkge1xuICAgICAgaWYgKCF0b3RhbCkgcmV0dXJuIG51bGw7XG4gICAgICBicmVhaztcbiAgICB9XG4gICAgY29uc3QgY2h1bmsgPSBidWYuc3ViYXJyYXkoMCwgbik7XG4gICAgY29uc3QgYXQgPSBjaHVuay5pbmRleE9mKDEwKTtcbiAgICBpZiAoYXQgIT09IC0xKSBubCA9IHRvdGFsICsgYXQ7XG4gICAgcGFydHMucHVzaChjaHVuayk7XG4gICAgdG90YWwgKz0gbjtcbiAgfVxuICBjb25zdCBhbGwgPSBuZXcgVWludDhBcnJheSh0b3RhbCk7XG4gIGxldCBvZmZzZXQgPSAwO1xuICBmb3IgKGNvbnN0IHAgb2YgcGFydHMpIHtcbiAgICBhbGwuc2V0KHAsIG9mZnNldCk7XG4gICAgb2Zmc2V0ICs9IHAubGVuZ3RoO1xuICB9XG4gIGNvbnN0IGVuZCA9IG5sID09PSAtMSA/IHRvdGFsIDogbmw7XG4gIHBlbmRpbmdCeXRlcyA9IGFsbC5zbGljZShlbmQgKyAxKTtcbiAgcmV0dXJuIGRlY29kZShhbGwuc3ViYXJyYXkoMCwgZW5kKSk7XG59XG5cbmFzeW5jIGZ1bmN0aW9uIHJlYWRIZWFkZXIoKTogUHJvbWlzZTxIZWFkZXI+IHtcbiAgcmV0dXJuIHBhcnNlSnNvbigoYXdhaXQgcmVhZExpbmUoKSkgPz8gXCJ7fVwiKTtcbn1cblxuY29uc3QgaGVhZGVyID0gYXdhaXQgcmVhZEhlYWRlcigpO1xuY29uc3Qgbm9uY2UgPSBoZWFkZXIubm9uY2U7XG5jb25zdCBjb2RlVXJsID0gXCJkYXRhOmFwcGxpY2F0aW9uL3R5cGVzY3JpcHQ7YmFzZTY0LFwiICsgZW5jb2RlKGhlYWRlci5jb2RlKS50b0Jhc2U2NCgpO1xubGV0IGVycm9yU2VudCA9IGZhbHNlO1xuXG5mdW5jdGlvbiB3cml0ZUFsbCh3cml0ZTogKGI6IFVpbnQ4QXJyYXkpID0+IG51bWJlciwgYnl0ZXM6IFVpbnQ4QXJyYXkpOiBib29sZWFuIHtcbiAgdHJ5IHtcbiAgICBsZXQgb2ZmID0gMDtcbiAgICB3aGlsZSAob2ZmIDwgYnl0ZXMubGVuZ3RoKSBvZmYgKz0gd3JpdGUoYnl0ZXMuc3ViYXJyYXkob2ZmKSk7XG4gICAgcmV0dXJuIHRydWU7XG4gIH0gY2F0Y2gge1xuICAgIHJldHVybiBmYWxzZTsgLy8gdGhlIGNvZGUgY2xvc2VkIHRoZSBzdHJlYW1cbiAgfVxufVxuXG4vKiogV3JpdGVzIG9uZSBmcmFtZSBvbiBzdGRvdXQsIG9yIG9uIHN0ZGVyciB3aGVuIHRoZSBjb2RlIGNsb3NlZCBzdGRvdXQuICovXG5mdW5jdGlvbiBzZW5kRnJhbWUobWVzc2FnZTogUmVjb3JkPHN0cmluZywgdW5rbm93bj4pOiB2b2lkIHtcbiAgY29uc3QgYnl0ZXMgPSBlbmNvZGUoTUFSSyArIG5vbmNlICsgc3RyaW5naWZ5KG1lc3NhZ2UpICsgTUFSSyk7XG4gIGlmICghd3JpdGVBbGwod3JpdGVPdXQsIGJ5dGVzKSkgd3JpdGVBbGwod3JpdGVFcnIsIGJ5dGVzKTtcbn1cblxuLyoqXG4gKiBOYW1lcyB0aGUgY29kZSBgY29kZS50c2AgaW4gYSBzdGFjayBvciBtZXNzYWdlIChEZW5vIHByaW50cyB0aGUgZGF0YSBVUkwsIGFiYnJldmlhdGVkXG4gKiB3aGVuIGxvbmcpLCBhbmQgZHJvcHMgdGhpcyBtb2R1bGUncyBmcmFtZXMuXG4gKi9cbmZ1bmN0aW9uIGNsZWFuKHRleHQ6IHN0cmluZyk6IHN0cmluZyB7XG4gIHJldHVybiB0ZXh0LnNwbGl0KGNvZGVVcmwpLmpvaW4oXCJjb2RlLnRzXCIpXG4gICAgLnJlcGxhY2UoL2RhdGE6W15cXHMoKVwiJ10qP2Jhc2U2NCxbQS1aYS16MC05Ky89LlxcdTIwMjZdKi9nLCBcImNvZGUudHNcIilcbiAgICAuc3BsaXQoXCJcXG5cIikuZmlsdGVyKChsaW5lKSA9PiAhbGluZS5pbmNsdWRlcyhvd25Cb290c3RyYXApKS5qb2luKFwiXFxuXCIpO1xufVxuXG5jb25zdCBERU5JRUQgPSAvUmVxdWlyZXMgXFx3KyBhY2Nlc3MgdG8gXCJbXlwiXSpcIiwgcnVuIGFnYWluIHdpdGggdGhlIC0tYWxsb3ctXFx3KyBmbGFnLztcblxuZnVuY3Rpb24gZGVzY3JpYmVFcnJvcihlcnJvcjogdW5rbm93bik6IFJlY29yZDxzdHJpbmcsIHVua25vd24+IHtcbiAgaWYgKGVycm9yIGluc3RhbmNlb2YgRXJyb3IpIHtcbiAgICBsZXQgdHlwZSA9IGVycm9yLm5hbWUgfHwgZXJyb3IuY29uc3RydWN0b3I/Lm5hbWUgfHwgXCJFcnJvclwiO1xuICAgIGxldCBtZXNzYWdlID0gY2xlYW4oU3RyaW5nKGVycm9yLm1lc3NhZ2UpKTtcbiAgICBsZXQgc3RhY2sgPSB0eXBlb2YgZXJyb3Iuc3RhY2sgPT09IFwic3RyaW5nXCIgPyBjbGVhbihlcnJvci5zdGFjaykgOiB1bmRlZmluZWQ7XG4gICAgLy8gRGVubyByZXBvcnRzIGNvZGUgdGhhdCBkb2VzIG5vdCBwYXJzZSBhcyBhIFR5cGVFcnJvciB3aG9zZSBtZXNzYWdlIHN0YXJ0cyB3aXRoXG4gICAgLy8gXCJTeW50YXhFcnJvcjogXCI7IHJlcG9ydCBpdCBhcyB3aGF0IGl0IGlzLlxuICAgIGlmICh0eXBlID09PSBcIlR5cGVFcnJvclwiICYmIG1lc3NhZ2Uuc3RhcnRzV2l0aChcIlN5bnRheEVycm9yOiBcIikpIHtcbiAgICAgIHR5cGUgPSBcIlN5bnRheEVycm9yXCI7XG4gICAgICBtZXNzYWdlID0gbWVzc2FnZS5zbGljZShcIlN5bnRheEVycm9yOiBcIi5sZW5ndGgpO1xuICAgICAgc3RhY2sgPSBzdGFjaz8ucmVwbGFjZSgvXlR5cGVFcnJvcjogU3ludGF4RXJyb3I6IC8sIFwiU3ludGF4RXJyb3I6IFwiKTtcbiAgICB9XG4gICAgLy8gQSBwZXJtaXNzaW9uIGRlbmlhbCBpcyBOb3RDYXBhYmxlIHdoZXJldmVyIGl0IHN1cmZhY2VzOiBhbiBpbXBvcnQgb2YgYW4gdW5ncmFudGVkXG4gICAgLy8gZmlsZSBpcyBhIFR5cGVFcnJvciB3aXRoIERlbm8ncyBcIlJlcXVpcmVzIC4uLiBhY2Nlc3NcIiBtZXNzYWdlLCBhbmQgYSBmZXRjaCB0aGF0XG4gICAgLy8gcmVzb2x2ZXMgdG8gYSBkZW5pZWQgYWRkcmVzcyBpcyBcImZldGNoIGZhaWxlZFwiIHdpdGggdGhlIGRlbmlhbCBhcyBpdHMgY2F1c2UuXG4gICAgY29uc3QgY2F1c2UgPSAoZXJyb3IgYXMgeyBjYXVzZT86IHVua25vd24gfSkuY2F1c2U7XG4gICAgaWYgKGNhdXNlIGluc3RhbmNlb2YgRXJyb3IgJiYgY2F1c2UubWVzc2FnZSkge1xuICAgICAgY29uc3QgZGVuaWFsID0gREVOSUVELmV4ZWMoY2F1c2UubWVzc2FnZSk7XG4gICAgICBpZiAoZGVuaWFsKSB7XG4gICAgICAgIHR5cGUgPSBcIk5vdENhcGFibGVcIjtcbiAgICAgICAgbWVzc2FnZSA9IGNsZWFuKGRlbmlhbFswXSk7XG4gICAgICB9IGVsc2UgbWVzc2FnZSArPSBgIChjYXVzZTogJHtjYXVzZS5uYW1lfTogJHtjbGVhbihjYXVzZS5tZXNzYWdlKX0pYDtcbiAgICB9IGVsc2UgaWYgKHR5cGUgPT09IFwiVHlwZUVycm9yXCIgJiYgbWVzc2FnZS5zdGFydHNXaXRoKFwiUmVxdWlyZXMgXCIpKSB7XG4gICAgICB0eXBlID0gXCJOb3RDYXBhYmxlXCI7XG4gICAgfVxuICAgIHJldHVybiBzdGFjayA9PT0gdW5kZWZpbmVkID8geyB0eXBlLCBtZXNzYWdlIH0gOiB7IHR5cGUsIG1lc3NhZ2UsIHN0YWNrIH07XG4gIH1cbiAgcmV0dXJuIHsgdHlwZTogXCJVbmNhdWdodFwiLCBtZXNzYWdlOiBjbGVhbihpbnNwZWN0KGVycm9yKSkgfTtcbn1cblxuLyoqXG4gKiBDb252ZXJ0cyBhIHZhbHVlIHRvIEpTT04tc2FmZSBkYXRhLiBKU09OIHZhbHVlcyBzdGF5IGFzIHRoZXkgYXJlOyB0aGUgcmVzdCBnZXRzIGFcbiAqIHRhZ2dlZCByZW5kZXJpbmc6IGB7ICRiaWdpbnQgfWAsIGB7ICRmdW5jdGlvbiB9YCwgYHsgJHN5bWJvbCB9YCwgYHsgJG51bWJlciB9YCBmb3IgTmFOXG4gKiBhbmQgaW5maW5pdGllcywgYHsgJGNpcmN1bGFyIH1gLCBgeyAkbWFwIH1gLCBgeyAkc2V0IH1gLCBgeyAkZXJyb3IgfWAsIGB7ICR1bmRlZmluZWQgfWAuXG4gKi9cbmZ1bmN0aW9uIHRvSnNvblNhZmUodmFsdWU6IHVua25vd24sIGFuY2VzdG9yczogdW5rbm93bltdID0gW10pOiB1bmtub3duIHtcbiAgc3dpdGNoICh0eXBlb2YgdmFsdWUpIHtcbiAgICBjYXNlIFwic3RyaW5nXCI6XG4gICAgY2FzZSBcImJvb2xlYW5cIjpcbiAgICAgIHJldHVybiB2YWx1ZTtcbiAgICBjYXNlIFwibnVtYmVyXCI6XG4gICAgICByZXR1cm4gTnVtYmVyLmlzRmluaXRlKHZhbHVlKSA/IHZhbHVlIDogeyAkbnVtYmVyOiBTdHJpbmcodmFsdWUpIH07XG4gICAgY2FzZSBcImJpZ2ludFwiOlxuICAgICAgcmV0dXJuIHsgJGJpZ2ludDogdmFsdWUudG9TdHJpbmcoKSB9O1xuICAgIGNhc2UgXCJ1bmRlZmluZWRcIjpcbiAgICAgIHJldHVybiB7ICR1bmRlZmluZWQ6IHRydWUgfTtcbiAgICBjYXNlIFwic3ltYm9sXCI6XG4gICAgICByZXR1cm4geyAkc3ltYm9sOiB2YWx1ZS5kZXNjcmlwdGlvbiA/PyBcIlwiIH07XG4gICAgY2FzZSBcImZ1bmN0aW9uXCI6XG4gICAgICByZXR1cm4geyAkZnVuY3Rpb246IHZhbHVlLm5hbWUgfHwgXCIoYW5vbnltb3VzKVwiIH07XG4gIH1cbiAgaWYgKHZhbHVlID09PSBudWxsKSByZXR1cm4gbnVsbDtcbiAgaWYgKGFuY2VzdG9ycy5pbmNsdWRlcyh2YWx1ZSkpIHJldHVybiB7ICRjaXJjdWxhcjogdHJ1ZSB9O1xuICBpZiAoYW5jZXN0b3JzLmxlbmd0aCA+IDIwMCkgcmV0dXJuIHsgJHRydW5jYXRlZDogXCJuZXN0aW5nIGRlZXBlciB0aGFuIDIwMFwiIH07XG4gIGNvbnN0IG5leHQgPSBbLi4uYW5jZXN0b3JzLCB2YWx1ZV07XG4gIGNvbnN0IG9iaiA9IHZhbHVlIGFzIFJlY29yZDxzdHJpbmcsIHVua25vd24+O1xuICBpZiAodHlwZW9mIG9iai50b0pTT04gPT09IFwiZnVuY3Rpb25cIikgcmV0dXJuIHRvSnNvblNhZmUob2JqLnRvSlNPTigpLCBuZXh0KTtcbiAgaWYgKHZhbHVlIGluc3RhbmNlb2YgRXJyb3IpIHJldHVybiB7ICRlcnJvcjogZGVzY3JpYmVFcnJvcih2YWx1ZSkgfTtcbiAgaWYgKHZhbHVlIGluc3RhbmNlb2YgTWFwKSB7XG4gICAgcmV0dXJuIHsgJG1hcDogWy4uLnZhbHVlXS5tYXAoKFtrLCB2XSkgPT4gW3RvSnNvblNhZmUoaywgbmV4dCksIHRvSnNvblNhZmUodiwgbmV4dCldKSB9O1xuICB9XG4gIGlmICh2YWx1ZSBpbnN0YW5jZW9mIFNldCkgcmV0dXJuIHsgJHNldDogWy4uLnZhbHVlXS5tYXAoKHYpID0+IHRvSnNvblNhZmUodiwgbmV4dCkpIH07XG4gIGlmIChpc0FycmF5KHZhbHVlKSkgcmV0dXJuIHZhbHVlLm1hcCgodikgPT4gKHYgPT09IHVuZGVmaW5lZCA/IG51bGwgOiB0b0pzb25TYWZlKHYsIG5leHQpKSk7XG4gIGlmIChBcnJheUJ1ZmZlci5pc1ZpZXcodmFsdWUpKSByZXR1cm4geyAkYnl0ZXM6ICh2YWx1ZSBhcyBBcnJheUJ1ZmZlclZpZXcpLmJ5dGVMZW5ndGggfTtcbiAgY29uc3Qgb3V0OiBSZWNvcmQ8c3RyaW5nLCB1bmtub3duPiA9IHt9O1xuICBmb3IgKGNvbnN0IGtleSBvZiBvYmplY3RLZXlzKG9iaikpIHtcbiAgICBjb25zdCB2ID0gb2JqW2tleV07XG4gICAgaWYgKHYgIT09IHVuZGVmaW5lZCAmJiB0eXBlb2YgdiAhPT0gXCJmdW5jdGlvblwiICYmIHR5cGVvZiB2ICE9PSBcInN5bWJvbFwiKSB7XG4gICAgICBvdXRba2V5XSA9IHRvSnNvblNhZmUodiwgbmV4dCk7XG4gICAgfVxuICB9XG4gIGNvbnN0IHByb3RvID0gZ2V0UHJvdG90eXBlT2YodmFsdWUpO1xuICBpZiAoXG4gICAgcHJvdG8gIT09IG51bGwgJiYgcHJvdG8gIT09IE9iamVjdC5wcm90b3R5cGUgJiYgcHJvdG8uY29uc3RydWN0b3I/Lm5hbWUgJiZcbiAgICAhb2JqZWN0S2V5cyhvdXQpLmxlbmd0aFxuICApIHtcbiAgICByZXR1cm4geyAkb2JqZWN0OiBwcm90by5jb25zdHJ1Y3Rvci5uYW1lIH07XG4gIH1cbiAgcmV0dXJuIG91dDtcbn1cblxuLyoqIFJlcG9ydHMgYW4gdW5jYXVnaHQgZXJyb3IgKGFsc28gb25lIHRocm93biBieSBhIHRpbWVyIGFmdGVyIHRoZSByZXN1bHQpIGFuZCBleGl0cy4gKi9cbmZ1bmN0aW9uIHJlcG9ydEVycm9yKGVycm9yOiB1bmtub3duKTogdm9pZCB7XG4gIGlmIChlcnJvclNlbnQpIHJldHVybjtcbiAgZXJyb3JTZW50ID0gdHJ1ZTtcbiAgc2VuZEZyYW1lKHsgdDogXCJlcnJvclwiLCBlcnJvcjogZGVzY3JpYmVFcnJvcihlcnJvcikgfSk7XG4gIGV4aXQoMSk7XG59XG5cbi8vIFdoZW4gdGhlIGV2ZW50IGxvb3AgaGFzIHJ1biBkcnkgKG9yIG9uIERlbm8uZXhpdCksIGV2ZXJ5IGJ5dGUgdGhlIGNvZGUgd3JvdGUgaXMgaW4gdGhlXG4vLyBwaXBlczogc2F5IHNvIG9uIGJvdGggc3RyZWFtcywgc28gdGhhdCB0aGUgY29uZHVjdG9yIGNhbiBzdG9wIHdhaXRpbmcgZm9yIHRoZSBwcm9jZXNzJ3Ncbi8vIHRlYXJkb3duLiBOb3RoaW5nIG9mIHRoZSBjb2RlIHJ1bnMgYWZ0ZXIgdGhpcyBidXQgXCJ1bmxvYWRcIiBsaXN0ZW5lcnMgaXQgYWRkZWQgbGF0ZXIuXG5hZGRMaXN0ZW5lcihcInVubG9hZFwiLCAoKSA9PiB7XG4gIGNvbnN0IGJ5dGVzID0gZW5jb2RlKFxuICAgIE1BUksgKyBub25jZSArIHN0cmluZ2lmeSh7IHQ6IFwiZXhpdFwiLCBjb2RlOiBkZW5vTmFtZXNwYWNlLmV4aXRDb2RlIH0pICsgTUFSSyxcbiAgKTtcbiAgd3JpdGVBbGwod3JpdGVPdXQsIGJ5dGVzKTtcbiAgd3JpdGVBbGwod3JpdGVFcnIsIGJ5dGVzKTtcbn0pO1xuXG5hZGRMaXN0ZW5lcihcImVycm9yXCIsIChldmVudDogRXJyb3JFdmVudCkgPT4ge1xuICBldmVudC5wcmV2ZW50RGVmYXVsdCgpO1xuICByZXBvcnRFcnJvcihldmVudC5lcnJvcik7XG59KTtcbmFkZExpc3RlbmVyKFwidW5oYW5kbGVkcmVqZWN0aW9uXCIsIChldmVudDogUHJvbWlzZVJlamVjdGlvbkV2ZW50KSA9PiB7XG4gIGV2ZW50LnByZXZlbnREZWZhdWx0KCk7XG4gIHJlcG9ydEVycm9yKGV2ZW50LnJlYXNvbik7XG59KTtcblxuLy8gQ29kZSBtb2RlOiBhIGB0b29sc2Agb2JqZWN0IHdob3NlIGZ1bmN0aW9ucyBzZW5kIGNhbGwgZnJhbWVzIGFuZCB3YWl0IGZvciB0aGUgcmVwbHlcbi8vIGxpbmVzLiBzdGRpbiBpcyByZWFkIG9ubHkgd2hpbGUgYSBjYWxsIGlzIHBlbmRpbmcsIHNvIHRoYXQgYW4gaWRsZSBjaGFubmVsIG5ldmVyIGtlZXBzXG4vLyB0aGUgcHJvY2VzcyBhbGl2ZS5cbmlmIChoZWFkZXIudG9vbHMpIHtcbiAgY29uc3QgcGVuZGluZyA9IG5ldyBNYXA8bnVtYmVyLCB7IHJlc29sdmU6ICh2OiB1bmtub3duKSA9PiB2b2lkOyByZWplY3Q6IChlOiBFcnJvcikgPT4gdm9pZCB9PigpO1xuICBsZXQgbmV4dElkID0gMDtcbiAgbGV0IHJlYWRpbmcgPSBmYWxzZTtcbiAgY29uc3QgcmVhZFJlcGxpZXMgPSBhc3luYyAoKSA9PiB7XG4gICAgcmVhZGluZyA9IHRydWU7XG4gICAgdHJ5IHtcbiAgICAgIHdoaWxlIChwZW5kaW5nLnNpemUpIHtcbiAgICAgICAgY29uc3QgbGluZSA9IGF3YWl0IHJlYWRMaW5lKCk7XG4gICAgICAgIGlmIChsaW5lID09PSBudWxsKSB7XG4gICAgICAgICAgZm9yIChjb25zdCBwIG9mIHBlbmRpbmcudmFsdWVzKCkpIHAucmVqZWN0KG5ldyBFcnJvcihcIlRoZSB0b29sIGNoYW5uZWwgY2xvc2VkXCIpKTtcbiAgICAgICAgICBwZW5kaW5nLmNsZWFyKCk7XG4gICAgICAgICAgYnJlYWs7XG4gICAgICAgIH1cbiAgICAgICAgY29uc3QgcmVwbHkgPSBwYXJzZUpzb24obGluZSkgYXMge1xuICAgICAgICAgIGlkOiBudW1iZXI7XG4gICAgICAgICAgb2s6IGJvb2xlYW47XG4gICAgICAgICAgdmFsdWU/OiB1bmtub3duO1xuICAgICAgICAgIGVycm9yPzogc3RyaW5nO1xuICAgICAgICB9O1xuICAgICAgICBjb25zdCB3YWl0ZXIgPSBwZW5kaW5nLmdldChyZXBseS5pZCk7XG4gICAgICAgIGlmICghd2FpdGVyKSBjb250aW51ZTtcbiAgICAgICAgcGVuZGluZy5kZWxldGUocmVwbHkuaWQpO1xuICAgICAgICBpZiAocmVwbHkub2spIHdhaXRlci5yZXNvbHZlKHJlcGx5LnZhbHVlKTtcbiAgICAgICAgZWxzZSB3YWl0ZXIucmVqZWN0KG5ldyBFcnJvcihyZXBseS5lcnJvciA/PyBcIlRoZSB0b29sIGNhbGwgZmFpbGVkXCIpKTtcbiAgICAgIH1cbiAgICB9IGZpbmFsbHkge1xuICAgICAgcmVhZGluZyA9IGZhbHNlO1xuICAgIH1cbiAgfTtcbiAgY29uc3QgY2FsbCA9IChzZXJ2ZXI6IHN0cmluZywgdG9vbDogc3RyaW5nLCBhcmdzOiB1bmtub3duKTogUHJvbWlzZTx1bmtub3duPiA9PiB7XG4gICAgY29uc3QgaWQgPSArK25leHRJZDtcbiAgICBjb25zdCBwcm9taXNlID0gbmV3IFByb21pc2UoKHJlc29sdmUsIHJlamVjdCkgPT4gcGVuZGluZy5zZXQoaWQsIHsgcmVzb2x2ZSwgcmVqZWN0IH0pKTtcbiAgICBzZW5kRnJhbWUoeyB0OiBcImNhbGxcIiwgaWQsIHNlcnZlciwgdG9vbCwgYXJnczogYXJncyA/PyB7fSB9KTtcbiAgICBpZiAoIXJlYWRpbmcpIHJlYWRSZXBsaWVzKCk7XG4gICAgcmV0dXJuIHByb21pc2U7XG4gIH07XG4gIGNvbnN0IHRvb2xzOiBSZWNvcmQ8c3RyaW5nLCBSZWNvcmQ8c3RyaW5nLCAoYXJncz86IHVua25vd24pID0+IFByb21pc2U8dW5rbm93bj4+PiA9IHt9O1xuICBmb3IgKGNvbnN0IFtzZXJ2ZXJJZCwgZW50cmllc10gb2YgT2JqZWN0LmVudHJpZXMoaGVhZGVyLnRvb2xzKSkge1xuICAgIGNvbnN0IGZuczogUmVjb3JkPHN0cmluZywgKGFyZ3M/OiB1bmtub3duKSA9PiBQcm9taXNlPHVua25vd24+PiA9IHt9O1xuICAgIGZvciAoY29uc3QgW3Rvb2xJZCwgW3NlcnZlciwgdG9vbF1dIG9mIE9iamVjdC5lbnRyaWVzKGVudHJpZXMpKSB7XG4gICAgICBmbnNbdG9vbElkXSA9IChhcmdzPzogdW5rbm93bikgPT4gY2FsbChzZXJ2ZXIsIHRvb2wsIGFyZ3MpO1xuICAgIH1cbiAgICB0b29sc1tzZXJ2ZXJJZF0gPSBPYmplY3QuZnJlZXplKGZucyk7XG4gIH1cbiAgT2JqZWN0LmRlZmluZVByb3BlcnR5KGdsb2JhbFRoaXMsIFwidG9vbHNcIiwgeyB2YWx1ZTogT2JqZWN0LmZyZWV6ZSh0b29scyksIGVudW1lcmFibGU6IGZhbHNlIH0pO1xufVxuXG5sZXQgdmFsdWU6IHVua25vd247XG50cnkge1xuICBjb25zdCBtb2QgPSBhd2FpdCBpbXBvcnQoY29kZVVybCk7XG4gIHZhbHVlID0gbW9kLmRlZmF1bHQ7XG4gIGlmICh2YWx1ZSAmJiB0eXBlb2YgKHZhbHVlIGFzIFByb21pc2VMaWtlPHVua25vd24+KS50aGVuID09PSBcImZ1bmN0aW9uXCIpIHZhbHVlID0gYXdhaXQgdmFsdWU7XG59IGNhdGNoIChlcnJvcikge1xuICByZXBvcnRFcnJvcihlcnJvcik7XG59XG5cbi8vIFRoZSB2YWx1ZSBpcyByZXBvcnRlZCBvbmNlLCB3aGVuIHRoZSBtb2R1bGUgaGFzIGZpbmlzaGVkIGV2YWx1YXRpbmcuIFRpbWVycyBhbmRcbi8vIHNlcnZlcnMgdGhlIGNvZGUgbGVmdCBiZWhpbmQga2VlcCBydW5uaW5nIHVudGlsIHRoZXkgZW5kIG9yIGEgbGltaXQgZmlyZXMuXG5pZiAoIWVycm9yU2VudCkge1xuICB0cnkge1xuICAgIGNvbnN0IG1lc3NhZ2UgPSB2YWx1ZSA9PT0gdW5kZWZpbmVkXG4gICAgICA/IHsgdDogXCJyZXN1bHRcIiB9XG4gICAgICA6IHsgdDogXCJyZXN1bHRcIiwgdmFsdWU6IHRvSnNvblNhZmUodmFsdWUpIH07XG4gICAgY29uc3Qgc2l6ZSA9IHN0cmluZ2lmeShtZXNzYWdlKS5sZW5ndGg7XG4gICAgaWYgKHNpemUgPiBoZWFkZXIubWF4UmV0dXJuQnl0ZXMpIHtcbiAgICAgIHRocm93IG5ldyBSYW5nZUVycm9yKFxuICAgICAgICBgVGhlIHJldHVybiB2YWx1ZSBpcyAke3NpemV9IGJ5dGVzIGFzIEpTT047IHRoZSBsaW1pdCBpcyAke2hlYWRlci5tYXhSZXR1cm5CeXRlc31gLFxuICAgICAgKTtcbiAgICB9XG4gICAgc2VuZEZyYW1lKG1lc3NhZ2UpO1xuICB9IGNhdGNoIChlcnJvcikge1xuICAgIHJlcG9ydEVycm9yKGVycm9yKTtcbiAgfVxufVxuIl0sIm5hbWVzIjpbXSwibWFwcGluZ3MiOiJBQUFBOzs7Ozs7Ozs7Ozs7Ozs7O0NBZ0JDLEdBRUQsdUZBQXVGO0FBQ3ZGLGdCQUFnQjtBQUNoQixNQUFNLFNBQVMsS0FBSyxNQUFNO0FBQzFCLE1BQU0sU0FBUyxLQUFLLE1BQU07QUFDMUIsTUFBTSxXQUFXLE9BQU8sU0FBUyxDQUFDLElBQUksQ0FBQztBQUN2QyxNQUFNLFdBQVcsT0FBTyxTQUFTLENBQUMsSUFBSSxDQUFDO0FBQ3ZDLE1BQU0sU0FBUyxLQUFLLEtBQUssQ0FBQyxJQUFJLENBQUMsSUFBSSxDQUFDLEtBQUssS0FBSztBQUM5QyxNQUFNLFlBQVksS0FBSyxTQUFTO0FBQ2hDLE1BQU0sWUFBWSxLQUFLLEtBQUs7QUFDNUIsTUFBTSxVQUFVLElBQUk7QUFDcEIsTUFBTSxTQUFTLFFBQVEsTUFBTSxDQUFDLElBQUksQ0FBQztBQUNuQyxNQUFNLFVBQVUsSUFBSTtBQUNwQixNQUFNLFNBQVMsUUFBUSxNQUFNLENBQUMsSUFBSSxDQUFDO0FBQ25DLE1BQU0sT0FBTyxLQUFLLElBQUk7QUFDdEIsTUFBTSxnQkFBZ0I7QUFDdEIsTUFBTSxVQUFVLEtBQUssT0FBTztBQUM1QixNQUFNLGNBQWMsV0FBVyxnQkFBZ0IsQ0FBQyxJQUFJLENBQUM7QUFDckQsTUFBTSxVQUFVLE1BQU0sT0FBTztBQUM3QixNQUFNLGFBQWEsT0FBTyxJQUFJO0FBQzlCLE1BQU0saUJBQWlCLE9BQU8sY0FBYztBQUM1QyxNQUFNLGVBQWUsWUFBWSxHQUFHO0FBQ3BDLE1BQU0sT0FBTztBQVViLHlGQUF5RjtBQUN6Riw4QkFBOEI7QUFDOUIsSUFBSSxlQUFlLElBQUksV0FBVztBQUVsQyxlQUFlO0VBQ2IsTUFBTSxRQUFzQjtJQUFDO0dBQWE7RUFDMUMsSUFBSSxRQUFRLGFBQWEsTUFBTTtFQUMvQixJQUFJLEtBQUssYUFBYSxPQUFPLENBQUM7RUFDOUIsTUFBTyxPQUFPLENBQUMsRUFBRztJQUNoQixNQUFNLE1BQU0sSUFBSSxXQUFXLEtBQUs7SUFDaEMsTUFBTSxJQUFJLE1BQU0sT0FBTztJQUN2QixJQUFJLE1BQU0sTUFBTTtNQUNkLElBQUksQ0FBQyxPQUFPLE9BQU87TUFDbkI7SUFDRjtJQUNBLE1BQU0sUUFBUSxJQUFJLFFBQVEsQ0FBQyxHQUFHO0lBQzlCLE1BQU0sS0FBSyxNQUFNLE9BQU8sQ0FBQztJQUN6QixJQUFJLE9BQU8sQ0FBQyxHQUFHLEtBQUssUUFBUTtJQUM1QixNQUFNLElBQUksQ0FBQztJQUNYLFNBQVM7RUFDWDtFQUNBLE1BQU0sTUFBTSxJQUFJLFdBQVc7RUFDM0IsSUFBSSxTQUFTO0VBQ2IsS0FBSyxNQUFNLEtBQUssTUFBTztJQUNyQixJQUFJLEdBQUcsQ0FBQyxHQUFHO0lBQ1gsVUFBVSxFQUFFLE1BQU07RUFDcEI7RUFDQSxNQUFNLE1BQU0sT0FBTyxDQUFDLElBQUksUUFBUTtFQUNoQyxlQUFlLElBQUksS0FBSyxDQUFDLE1BQU07RUFDL0IsT0FBTyxPQUFPLElBQUksUUFBUSxDQUFDLEdBQUc7QUFDaEM7QUFFQSxlQUFlO0VBQ2IsT0FBTyxVQUFVLEFBQUMsTUFBTSxjQUFlO0FBQ3pDO0FBRUEsTUFBTSxTQUFTLE1BQU07QUFDckIsTUFBTSxRQUFRLE9BQU8sS0FBSztBQUMxQixNQUFNLFVBQVUsd0NBQXdDLE9BQU8sT0FBTyxJQUFJLEVBQUUsUUFBUTtBQUNwRixJQUFJLFlBQVk7QUFFaEIsU0FBUyxTQUFTLEtBQWdDLEVBQUUsS0FBaUI7RUFDbkUsSUFBSTtJQUNGLElBQUksTUFBTTtJQUNWLE1BQU8sTUFBTSxNQUFNLE1BQU0sQ0FBRSxPQUFPLE1BQU0sTUFBTSxRQUFRLENBQUM7SUFDdkQsT0FBTztFQUNULEVBQUUsT0FBTTtJQUNOLE9BQU8sT0FBTyw2QkFBNkI7RUFDN0M7QUFDRjtBQUVBLDBFQUEwRSxHQUMxRSxTQUFTLFVBQVUsT0FBZ0M7RUFDakQsTUFBTSxRQUFRLE9BQU8sT0FBTyxRQUFRLFVBQVUsV0FBVztFQUN6RCxJQUFJLENBQUMsU0FBUyxVQUFVLFFBQVEsU0FBUyxVQUFVO0FBQ3JEO0FBRUE7OztDQUdDLEdBQ0QsU0FBUyxNQUFNLElBQVk7RUFDekIsT0FBTyxLQUFLLEtBQUssQ0FBQyxTQUFTLElBQUksQ0FBQyxXQUM3QixPQUFPLENBQUMsa0RBQWtELFdBQzFELEtBQUssQ0FBQyxNQUFNLE1BQU0sQ0FBQyxDQUFDLE9BQVMsQ0FBQyxLQUFLLFFBQVEsQ0FBQyxlQUFlLElBQUksQ0FBQztBQUNyRTtBQUVBLE1BQU0sU0FBUztBQUVmLFNBQVMsY0FBYyxLQUFjO0VBQ25DLElBQUksaUJBQWlCLE9BQU87SUFDMUIsSUFBSSxPQUFPLE1BQU0sSUFBSSxJQUFJLE1BQU0sV0FBVyxFQUFFLFFBQVE7SUFDcEQsSUFBSSxVQUFVLE1BQU0sT0FBTyxNQUFNLE9BQU87SUFDeEMsSUFBSSxRQUFRLE9BQU8sTUFBTSxLQUFLLEtBQUssV0FBVyxNQUFNLE1BQU0sS0FBSyxJQUFJO0lBQ25FLGlGQUFpRjtJQUNqRiw0Q0FBNEM7SUFDNUMsSUFBSSxTQUFTLGVBQWUsUUFBUSxVQUFVLENBQUMsa0JBQWtCO01BQy9ELE9BQU87TUFDUCxVQUFVLFFBQVEsS0FBSyxDQUFDLGdCQUFnQixNQUFNO01BQzlDLFFBQVEsT0FBTyxRQUFRLDZCQUE2QjtJQUN0RDtJQUNBLG9GQUFvRjtJQUNwRixrRkFBa0Y7SUFDbEYsK0VBQStFO0lBQy9FLE1BQU0sUUFBUSxBQUFDLE1BQThCLEtBQUs7SUFDbEQsSUFBSSxpQkFBaUIsU0FBUyxNQUFNLE9BQU8sRUFBRTtNQUMzQyxNQUFNLFNBQVMsT0FBTyxJQUFJLENBQUMsTUFBTSxPQUFPO01BQ3hDLElBQUksUUFBUTtRQUNWLE9BQU87UUFDUCxVQUFVLE1BQU0sTUFBTSxDQUFDLEVBQUU7TUFDM0IsT0FBTyxXQUFXLENBQUMsU0FBUyxFQUFFLE1BQU0sSUFBSSxDQUFDLEVBQUUsRUFBRSxNQUFNLE1BQU0sT0FBTyxFQUFFLENBQUMsQ0FBQztJQUN0RSxPQUFPLElBQUksU0FBUyxlQUFlLFFBQVEsVUFBVSxDQUFDLGNBQWM7TUFDbEUsT0FBTztJQUNUO0lBQ0EsT0FBTyxVQUFVLFlBQVk7TUFBRTtNQUFNO0lBQVEsSUFBSTtNQUFFO01BQU07TUFBUztJQUFNO0VBQzFFO0VBQ0EsT0FBTztJQUFFLE1BQU07SUFBWSxTQUFTLE1BQU0sUUFBUTtFQUFRO0FBQzVEO0FBRUE7Ozs7Q0FJQyxHQUNELFNBQVMsV0FBVyxLQUFjLEVBQUUsWUFBdUIsRUFBRTtFQUMzRCxPQUFRLE9BQU87SUFDYixLQUFLO0lBQ0wsS0FBSztNQUNILE9BQU87SUFDVCxLQUFLO01BQ0gsT0FBTyxPQUFPLFFBQVEsQ0FBQyxTQUFTLFFBQVE7UUFBRSxTQUFTLE9BQU87TUFBTztJQUNuRSxLQUFLO01BQ0gsT0FBTztRQUFFLFNBQVMsTUFBTSxRQUFRO01BQUc7SUFDckMsS0FBSztNQUNILE9BQU87UUFBRSxZQUFZO01BQUs7SUFDNUIsS0FBSztNQUNILE9BQU87UUFBRSxTQUFTLE1BQU0sV0FBVyxJQUFJO01BQUc7SUFDNUMsS0FBSztNQUNILE9BQU87UUFBRSxXQUFXLE1BQU0sSUFBSSxJQUFJO01BQWM7RUFDcEQ7RUFDQSxJQUFJLFVBQVUsTUFBTSxPQUFPO0VBQzNCLElBQUksVUFBVSxRQUFRLENBQUMsUUFBUSxPQUFPO0lBQUUsV0FBVztFQUFLO0VBQ3hELElBQUksVUFBVSxNQUFNLEdBQUcsS0FBSyxPQUFPO0lBQUUsWUFBWTtFQUEwQjtFQUMzRSxNQUFNLE9BQU87T0FBSTtJQUFXO0dBQU07RUFDbEMsTUFBTSxNQUFNO0VBQ1osSUFBSSxPQUFPLElBQUksTUFBTSxLQUFLLFlBQVksT0FBTyxXQUFXLElBQUksTUFBTSxJQUFJO0VBQ3RFLElBQUksaUJBQWlCLE9BQU8sT0FBTztJQUFFLFFBQVEsY0FBYztFQUFPO0VBQ2xFLElBQUksaUJBQWlCLEtBQUs7SUFDeEIsT0FBTztNQUFFLE1BQU07V0FBSTtPQUFNLENBQUMsR0FBRyxDQUFDLENBQUMsQ0FBQyxHQUFHLEVBQUUsR0FBSztVQUFDLFdBQVcsR0FBRztVQUFPLFdBQVcsR0FBRztTQUFNO0lBQUU7RUFDeEY7RUFDQSxJQUFJLGlCQUFpQixLQUFLLE9BQU87SUFBRSxNQUFNO1NBQUk7S0FBTSxDQUFDLEdBQUcsQ0FBQyxDQUFDLElBQU0sV0FBVyxHQUFHO0VBQU87RUFDcEYsSUFBSSxRQUFRLFFBQVEsT0FBTyxNQUFNLEdBQUcsQ0FBQyxDQUFDLElBQU8sTUFBTSxZQUFZLE9BQU8sV0FBVyxHQUFHO0VBQ3BGLElBQUksWUFBWSxNQUFNLENBQUMsUUFBUSxPQUFPO0lBQUUsUUFBUSxBQUFDLE1BQTBCLFVBQVU7RUFBQztFQUN0RixNQUFNLE1BQStCLENBQUM7RUFDdEMsS0FBSyxNQUFNLE9BQU8sV0FBVyxLQUFNO0lBQ2pDLE1BQU0sSUFBSSxHQUFHLENBQUMsSUFBSTtJQUNsQixJQUFJLE1BQU0sYUFBYSxPQUFPLE1BQU0sY0FBYyxPQUFPLE1BQU0sVUFBVTtNQUN2RSxHQUFHLENBQUMsSUFBSSxHQUFHLFdBQVcsR0FBRztJQUMzQjtFQUNGO0VBQ0EsTUFBTSxRQUFRLGVBQWU7RUFDN0IsSUFDRSxVQUFVLFFBQVEsVUFBVSxPQUFPLFNBQVMsSUFBSSxNQUFNLFdBQVcsRUFBRSxRQUNuRSxDQUFDLFdBQVcsS0FBSyxNQUFNLEVBQ3ZCO0lBQ0EsT0FBTztNQUFFLFNBQVMsTUFBTSxXQUFXLENBQUMsSUFBSTtJQUFDO0VBQzNDO0VBQ0EsT0FBTztBQUNUO0FBRUEsdUZBQXVGLEdBQ3ZGLFNBQVMsWUFBWSxLQUFjO0VBQ2pDLElBQUksV0FBVztFQUNmLFlBQVk7RUFDWixVQUFVO0lBQUUsR0FBRztJQUFTLE9BQU8sY0FBYztFQUFPO0VBQ3BELEtBQUs7QUFDUDtBQUVBLHlGQUF5RjtBQUN6RiwwRkFBMEY7QUFDMUYsdUZBQXVGO0FBQ3ZGLFlBQVksVUFBVTtFQUNwQixNQUFNLFFBQVEsT0FDWixPQUFPLFFBQVEsVUFBVTtJQUFFLEdBQUc7SUFBUSxNQUFNLGNBQWMsUUFBUTtFQUFDLEtBQUs7RUFFMUUsU0FBUyxVQUFVO0VBQ25CLFNBQVMsVUFBVTtBQUNyQjtBQUVBLFlBQVksU0FBUyxDQUFDO0VBQ3BCLE1BQU0sY0FBYztFQUNwQixZQUFZLE1BQU0sS0FBSztBQUN6QjtBQUNBLFlBQVksc0JBQXNCLENBQUM7RUFDakMsTUFBTSxjQUFjO0VBQ3BCLFlBQVksTUFBTSxNQUFNO0FBQzFCO0FBRUEsc0ZBQXNGO0FBQ3RGLHlGQUF5RjtBQUN6RixxQkFBcUI7QUFDckIsSUFBSSxPQUFPLEtBQUssRUFBRTtFQUNoQixNQUFNLFVBQVUsSUFBSTtFQUNwQixJQUFJLFNBQVM7RUFDYixJQUFJLFVBQVU7RUFDZCxNQUFNLGNBQWM7SUFDbEIsVUFBVTtJQUNWLElBQUk7TUFDRixNQUFPLFFBQVEsSUFBSSxDQUFFO1FBQ25CLE1BQU0sT0FBTyxNQUFNO1FBQ25CLElBQUksU0FBUyxNQUFNO1VBQ2pCLEtBQUssTUFBTSxLQUFLLFFBQVEsTUFBTSxHQUFJLEVBQUUsTUFBTSxDQUFDLElBQUksTUFBTTtVQUNyRCxRQUFRLEtBQUs7VUFDYjtRQUNGO1FBQ0EsTUFBTSxRQUFRLFVBQVU7UUFNeEIsTUFBTSxTQUFTLFFBQVEsR0FBRyxDQUFDLE1BQU0sRUFBRTtRQUNuQyxJQUFJLENBQUMsUUFBUTtRQUNiLFFBQVEsTUFBTSxDQUFDLE1BQU0sRUFBRTtRQUN2QixJQUFJLE1BQU0sRUFBRSxFQUFFLE9BQU8sT0FBTyxDQUFDLE1BQU0sS0FBSzthQUNuQyxPQUFPLE1BQU0sQ0FBQyxJQUFJLE1BQU0sTUFBTSxLQUFLLElBQUk7TUFDOUM7SUFDRixTQUFVO01BQ1IsVUFBVTtJQUNaO0VBQ0Y7RUFDQSxNQUFNLE9BQU8sQ0FBQyxRQUFnQixNQUFjO0lBQzFDLE1BQU0sS0FBSyxFQUFFO0lBQ2IsTUFBTSxVQUFVLElBQUksUUFBUSxDQUFDLFNBQVMsU0FBVyxRQUFRLEdBQUcsQ0FBQyxJQUFJO1FBQUU7UUFBUztNQUFPO0lBQ25GLFVBQVU7TUFBRSxHQUFHO01BQVE7TUFBSTtNQUFRO01BQU0sTUFBTSxRQUFRLENBQUM7SUFBRTtJQUMxRCxJQUFJLENBQUMsU0FBUztJQUNkLE9BQU87RUFDVDtFQUNBLE1BQU0sUUFBOEUsQ0FBQztFQUNyRixLQUFLLE1BQU0sQ0FBQyxVQUFVLFFBQVEsSUFBSSxPQUFPLE9BQU8sQ0FBQyxPQUFPLEtBQUssRUFBRztJQUM5RCxNQUFNLE1BQTRELENBQUM7SUFDbkUsS0FBSyxNQUFNLENBQUMsUUFBUSxDQUFDLFFBQVEsS0FBSyxDQUFDLElBQUksT0FBTyxPQUFPLENBQUMsU0FBVTtNQUM5RCxHQUFHLENBQUMsT0FBTyxHQUFHLENBQUMsT0FBbUIsS0FBSyxRQUFRLE1BQU07SUFDdkQ7SUFDQSxLQUFLLENBQUMsU0FBUyxHQUFHLE9BQU8sTUFBTSxDQUFDO0VBQ2xDO0VBQ0EsT0FBTyxjQUFjLENBQUMsWUFBWSxTQUFTO0lBQUUsT0FBTyxPQUFPLE1BQU0sQ0FBQztJQUFRLFlBQVk7RUFBTTtBQUM5RjtBQUVBLElBQUk7QUFDSixJQUFJO0VBQ0YsTUFBTSxNQUFNLE1BQU0sTUFBTSxDQUFDO0VBQ3pCLFFBQVEsSUFBSSxPQUFPO0VBQ25CLElBQUksU0FBUyxPQUFPLEFBQUMsTUFBK0IsSUFBSSxLQUFLLFlBQVksUUFBUSxNQUFNO0FBQ3pGLEVBQUUsT0FBTyxPQUFPO0VBQ2QsWUFBWTtBQUNkO0FBRUEsa0ZBQWtGO0FBQ2xGLDZFQUE2RTtBQUM3RSxJQUFJLENBQUMsV0FBVztFQUNkLElBQUk7SUFDRixNQUFNLFVBQVUsVUFBVSxZQUN0QjtNQUFFLEdBQUc7SUFBUyxJQUNkO01BQUUsR0FBRztNQUFVLE9BQU8sV0FBVztJQUFPO0lBQzVDLE1BQU0sT0FBTyxVQUFVLFNBQVMsTUFBTTtJQUN0QyxJQUFJLE9BQU8sT0FBTyxjQUFjLEVBQUU7TUFDaEMsTUFBTSxJQUFJLFdBQ1IsQ0FBQyxvQkFBb0IsRUFBRSxLQUFLLDZCQUE2QixFQUFFLE9BQU8sY0FBYyxFQUFFO0lBRXRGO0lBQ0EsVUFBVTtFQUNaLEVBQUUsT0FBTyxPQUFPO0lBQ2QsWUFBWTtFQUNkO0FBQ0YifQ==
// denoCacheMetadata=16830604626446441023,11703241097373244466
