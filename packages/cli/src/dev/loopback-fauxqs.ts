import type { Server as HttpServer } from "node:http";
import { Server } from "node:net";
import { startFauxqs } from "fauxqs";
import { enforceConditionalCreates } from "./s3-conditional-writes.js";

type FauxqsOptions = NonNullable<Parameters<typeof startFauxqs>[0]>;
export type FauxqsServer = Awaited<ReturnType<typeof startFauxqs>>;

/**
 * Starts fauxqs bound to 127.0.0.1 only. fauxqs hard-codes `listen({host: "0.0.0.0"})`, which
 * would expose an unauthenticated SQS/S3 server to the network, so its listen call is rebound
 * while it starts. Queue URLs keep fauxqs' default `sqs.<region>.localhost` host.
 */
export async function startLoopbackFauxqs(options: Omit<FauxqsOptions, "host">): Promise<FauxqsServer> {
  const original = Server.prototype.listen;
  const rebound = function (this: Server, ...args: unknown[]) {
    const [first] = args;
    if (first && typeof first === "object" && (first as { host?: unknown }).host === "0.0.0.0") {
      args[0] = { ...first, host: "127.0.0.1" };
      enforceConditionalCreates(this as unknown as HttpServer);
    }
    return (original as (...a: unknown[]) => Server).apply(this, args);
  };
  Server.prototype.listen = rebound as typeof Server.prototype.listen;
  try {
    return await startFauxqs(options);
  } finally {
    Server.prototype.listen = original;
  }
}
