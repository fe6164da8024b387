const stdout = Deno.stdout;
const stderr = Deno.stderr;
const writeOut = stdout.writeSync.bind(stdout);
const writeErr = stderr.writeSync.bind(stderr);
const readIn = Deno.stdin.read.bind(Deno.stdin);
const readInSync = Deno.stdin.readSync.bind(Deno.stdin);
const stringify = JSON.stringify;
const parseJson = JSON.parse;
const encoder = new TextEncoder();
const encode = encoder.encode.bind(encoder);
const fromCharCode = String.fromCharCode;
const TextDecoderClass = TextDecoder;
const decodeText = TextDecoder.prototype.decode;
const U8 = Uint8Array;
const exit = Deno.exit;
const denoNamespace = Deno;
const inspect = Deno.inspect;
const apply = Reflect.apply;
const isArray = Array.isArray;
const objectKeys = Object.keys;
const getPrototypeOf = Object.getPrototypeOf;
const typedArrayPrototype = getPrototypeOf(Uint8Array.prototype);
const getter = (name) => Object.getOwnPropertyDescriptor(typedArrayPrototype, name).get;
const byteCount = getter("length");
const bufferOf = getter("buffer");
const offsetOf = getter("byteOffset");
const setBytes = typedArrayPrototype.set;
const view = (bytes, from, length) =>
  new U8(apply(bufferOf, bytes, []), apply(offsetOf, bytes, []) + from, length);
let decoder;
function textOf(bytes, end) {
  for (let i = 0; i < end; i++) {
    if (bytes[i] > 127) {
      decoder ??= new TextDecoderClass();
      return apply(decodeText, decoder, [view(bytes, 0, end)]);
    }
  }
  let text = "";
  for (let i = 0; i < end; i += 8192) {
    text += apply(fromCharCode, null, view(bytes, i, end - i > 8192 ? 8192 : end - i));
  }
  return text;
}
let pendingBytes = new Uint8Array(0);
async function readLineBytes(read) {
  const parts = [pendingBytes];
  let total = pendingBytes.length;
  let nl = pendingBytes.indexOf(10);
  while (nl === -1) {
    const buf = new Uint8Array(64 * 1024);
    const n = await read(buf);
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
  return view(all, 0, end);
}
async function readLine(read) {
  const line = await readLineBytes(read);
  return line === null ? null : textOf(line, apply(byteCount, line, []));
}
const nonce = await readLineBytes(readInSync) ?? new U8(0);
const header = parseJson(await readLine(readInSync) ?? "{}");
const codeUrl =
  `data:application/${header.typescript === false ? "javascript" : "typescript"};base64,` +
  encode(header.code).toBase64();
let errorSent = false;
function writeAll(write, bytes) {
  try {
    const total = apply(byteCount, bytes, []);
    let off = write(bytes);
    while (off < total) off += write(view(bytes, off, total - off));
    return true;
  } catch {
    return false;
  }
}

function frame(json) {
  const body = encode(json);
  const n = apply(byteCount, nonce, []);
  const end = n + 1 + apply(byteCount, body, []);
  const bytes = new U8(end + 1);
  bytes[0] = 30;
  apply(setBytes, bytes, [nonce, 1]);
  apply(setBytes, bytes, [body, n + 1]);
  bytes[end] = 30;
  return bytes;
}
function sendJson(json) {
  const bytes = frame(json);
  if (!writeAll(writeOut, bytes)) writeAll(writeErr, bytes);
}
const jsonString = (text) => stringify("" + text);
function errorJson(error) {
  try {
    const { type, message, stack } = describeError(error);
    return `{"t":"error","error":{"type":${jsonString(type)},"message":${jsonString(message)}${
      stack === undefined ? "" : `,"stack":${jsonString(stack)}`
    }}}`;
  } catch {
    return '{"t":"error","error":{"type":"Error","message":"The error could not be described"}}';
  }
}
function clean(text) {
  return text.split(codeUrl).join("code.ts").replace(
    /data:[^\s()"']*?base64,[A-Za-z0-9+/=.\u2026]*/g,
    "code.ts",
  ).split("\n").filter((line) => !line.includes(import.meta.url)).join("\n");
}
const DENIED = /Requires \w+ access to "[^"]*", run again with the --allow-\w+ flag/;
function describeError(error) {
  if (error instanceof Error) {
    let type = String(error.name || error.constructor?.name || "Error");
    let message = clean(String(error.message));
    let stack = typeof error.stack === "string" ? clean(error.stack) : undefined;
    if (type === "TypeError" && message.startsWith("SyntaxError: ")) {
      type = "SyntaxError";
      message = message.slice("SyntaxError: ".length);
      stack = stack?.replace(/^TypeError: SyntaxError: /, "SyntaxError: ");
    }
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
    return { type, message, stack };
  }
  return { type: "Uncaught", message: clean(inspect(error)), stack: undefined };
}
function toJsonSafe(value, ancestors = []) {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { $number: String(value) };
    case "bigint":
      return { $bigint: value.toString() };
    case "undefined":
      return { $undefined: true };
    case "symbol":
      return { $symbol: value.description ?? "" };
    case "function":
      return { $function: value.name || "(anonymous)" };
  }
  if (value === null) return null;
  if (ancestors.includes(value)) {
    return { $circular: true };
  }
  if (ancestors.length > 200) {
    return { $truncated: "nesting deeper than 200" };
  }
  const next = [...ancestors, value];
  const obj = value;
  if (typeof obj.toJSON === "function") return toJsonSafe(obj.toJSON(), next);
  if (value instanceof Error) {
    return { $error: describeError(value) };
  }
  if (value instanceof Map) {
    return {
      $map: [...value].map(([k, v]) => [toJsonSafe(k, next), toJsonSafe(v, next)]),
    };
  }
  if (value instanceof Set) {
    return {
      $set: [...value].map((v) => toJsonSafe(v, next)),
    };
  }
  if (isArray(value)) {
    const items = [];
    for (let i = 0; i < value.length; i++) {
      items[i] = value[i] === undefined ? null : toJsonSafe(value[i], next);
    }
    return items;
  }
  if (ArrayBuffer.isView(value)) {
    return { $bytes: value.byteLength };
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
    return { $object: proto.constructor.name };
  }
  return out;
}
function sendExit(code) {
  const bytes = frame(
    typeof code === "number" && code - code === 0 ? `{"t":"exit","code":${code}}` : '{"t":"exit"}',
  );
  writeAll(writeOut, bytes);
  writeAll(writeErr, bytes);
}
function reportError(error) {
  if (errorSent) return;
  errorSent = true;
  sendJson(errorJson(error));
  exit(1);
}
const dispatchOriginal = globalThis.dispatchEvent;
globalThis.dispatchEvent = function dispatchEvent(event) {
  const type = event?.type;
  if (type === "error") reportError(event.error);
  else if (type === "unhandledrejection") reportError(event.reason);
  const result = apply(dispatchOriginal, this, [event]);
  if (type === "unload") sendExit(denoNamespace.exitCode);
  return result;
};
if (header.tools) {
  const pending = new Map();
  let nextId = 0;
  let reading = false;
  const readReplies = async () => {
    reading = true;
    try {
      while (pending.size) {
        const line = await readLine(readIn);
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
    let json;
    try {
      json = stringify(args ?? {}) ?? "{}";
    } catch (error) {
      return Promise.reject(error);
    }
    const id = ++nextId;
    const promise = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    sendJson(
      `{"t":"call","id":${id},"server":${jsonString(server)},"tool":${
        jsonString(tool)
      },"args":${json}}`,
    );
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
  Object.defineProperty(globalThis, "tools", { value: Object.freeze(tools), enumerable: false });
}
let value;
try {
  const mod = await import(codeUrl);
  value = mod.default;
  if (value && typeof value.then === "function") value = await value;
} catch (error) {
  reportError(error);
}
if (!errorSent) {
  try {
    const plain = value === null || typeof value === "string" || typeof value === "boolean" ||
      (typeof value === "number" && value - value === 0);
    const json = value === undefined
      ? '{"t":"result"}'
      : `{"t":"result","value":${stringify(plain ? value : toJsonSafe(value)) ?? "null"}}`;
    if (json.length > header.maxReturnBytes) {
      throw new RangeError(
        `The return value is ${json.length} bytes as JSON; the limit is ${header.maxReturnBytes}`,
      );
    }
    sendJson(json);
  } catch (error) {
    reportError(error);
  }
}
