import { type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';

/** Whether `path` already names an object, asked of the same server with a HEAD request. */
function objectExists(server: Server, req: IncomingMessage): Promise<boolean> {
  const { port } = server.address() as AddressInfo;
  const headers = { ...req.headers };
  for (const name of ["content-length", "content-md5", "if-none-match", "transfer-encoding", "expect"]) {
    delete headers[name];
  }
  return new Promise((resolve, reject) => {
    const path = req.url?.split("?")[0] ?? "/";
    const head = request({ host: "127.0.0.1", port, method: "HEAD", path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    head.on("error", reject);
    head.end();
  });
}

/**
 * Gives fauxqs' S3 the conditional create that Terraform's S3 backend locks with
 * (`use_lockfile`: `PUT` with `If-None-Match: *` must fail with 412 when the object exists). fauxqs
 * ignores the header, so two runs would both "acquire" a lock. Conditional PUTs of one path are
 * serialised and checked first; everything else goes straight through.
 */
export function enforceConditionalCreates(server: Server): void {
  const original = server.listeners("request") as RequestListener[];
  if (original.length === 0) return;
  server.removeAllListeners("request");
  const tails = new Map<string, Promise<void>>();
  const pass = (req: IncomingMessage, res: ServerResponse) => {
    for (const listener of original) listener.call(server, req, res);
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "PUT" || req.headers["if-none-match"] !== "*" || !req.url) return pass(req, res);
    const path = req.url.split("?")[0] ?? req.url;
    const before = tails.get(path) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = before.then(() => mine);
    tails.set(path, tail);
    res.once("close", () => {
      release();
      if (tails.get(path) === tail) tails.delete(path);
    });
    void before
      .then(() => objectExists(server, req))
      .then(
        (exists) => {
          if (!exists) return pass(req, res);
          req.resume();
          res.writeHead(412, { "content-type": "application/xml" }).end(PRECONDITION_FAILED);
        },
        () => pass(req, res),
      );
  });
}
