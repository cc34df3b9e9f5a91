// The S3 machine source (MACHINE_S3_BUCKET / MACHINE_S3_KEY, docs/state-manager.md) at its edges:
// a spec deleted from the bucket, a whole-bucket prefix, a spec replaced by an oversized one
// between the listing and the download, and the no-I/O peek the event path uses.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { MAX_SPEC_BYTES } from "@stackseam/core";
import { type ReloadResult, s3MachineSource } from "@stackseam/state-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, TEST_CREDENTIALS, type TestAws } from "../../../test/support/aws.js";
import { FIXTURES } from "./helpers.js";

const FANOUT = await readFile(join(FIXTURES, "fanout.yml"), "utf8");

let aws: TestAws;
beforeAll(async () => {
  aws = await startTestAws({ bucket: "specs-edges" });
});
afterAll(async () => {
  await aws?.stop();
});

const put = (key: string, body: string) =>
  aws.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: body }));

function client(): S3Client {
  return new S3Client({
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: TEST_CREDENTIALS,
    forcePathStyle: true,
  });
}

describe("S3 machine source edges", () => {
  it("reads the whole bucket when no prefix is given, and drops a spec deleted from it", async () => {
    await put("fanout.yml", FANOUT);
    await put("old/retired.yml", FANOUT);
    let clock = 0;
    const reloads: ReloadResult[][] = [];
    const s3 = client();
    const source = s3MachineSource({
      s3,
      bucket: aws.bucket,
      ttlSeconds: 30,
      now: () => clock,
      onReload: (r) => reloads.push(r),
    });
    expect((await source.get("retired")).ok).toBe(true);
    expect((await source.get("fanout")).ok).toBe(true);

    await aws.s3.send(new DeleteObjectCommand({ Bucket: aws.bucket, Key: "old/retired.yml" }));
    clock += 31_000;
    expect(await source.get("retired")).toEqual({
      ok: false,
      reason: `unknown machine "retired": no retired.yml or retired.yaml in s3://${aws.bucket}/`,
      diagnostics: [],
    });
    expect(reloads.at(-1)).toEqual([
      {
        machine: "retired",
        source: `s3://${aws.bucket}/old/retired.yml`,
        ok: true,
        diagnostics: [],
        keptLastGood: false,
        removed: true,
      },
    ]);
    s3.destroy();
  });

  it("answers a name that cannot be a spec file without asking S3", async () => {
    const requests: string[] = [];
    const s3 = client();
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        requests.push(context.commandName ?? "?");
        return next(args);
      },
      { step: "initialize", name: "countRequests" },
    );
    const source = s3MachineSource({ s3, bucket: aws.bucket, prefix: "nowhere/" });
    const lookup = await source.get("../fanout");
    expect(lookup.ok).toBe(false);
    expect(requests).toEqual([]);
    s3.destroy();
  });

  it("peeks without I/O: nothing before the first load, then the cache, revalidating after the TTL", async () => {
    await put("peek/fanout.yml", FANOUT);
    let clock = 0;
    const reloads: ReloadResult[][] = [];
    const s3 = client();
    const source = s3MachineSource({
      s3,
      bucket: aws.bucket,
      prefix: "peek",
      ttlSeconds: 30,
      now: () => clock,
      onReload: (r) => reloads.push(r),
    });
    expect(source.cached("fanout")).toBeUndefined();
    await source.all();
    expect(source.cached("fanout")?.ok).toBe(true);
    expect(source.cached("other")?.ok).toBe(false);

    // After the TTL a peek still answers from the cache at once and starts a revalidation.
    await put("peek/second.yml", FANOUT);
    clock += 31_000;
    expect(source.cached("second")?.ok).toBe(false);
    await expect.poll(() => reloads.flat().some((r) => r.machine === "second" && r.ok)).toBe(true);
    expect(source.cached("second")?.ok).toBe(true);
    s3.destroy();
  });

  it("refuses a spec replaced by an oversized one between the listing and the download", async () => {
    await put("race/fanout.yml", FANOUT);
    const big = `# ${"x".repeat(MAX_SPEC_BYTES)}\n${FANOUT}`;
    const s3 = client();
    // The replacement lands just before the source's GetObject reaches the bucket.
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand") await put("race/fanout.yml", big);
        return next(args);
      },
      { step: "initialize", name: "replaceBeforeGet" },
    );
    const source = s3MachineSource({ s3, bucket: aws.bucket, prefix: "race/" });
    const lookup = await source.get("fanout");
    expect(lookup.ok).toBe(false);
    if (!lookup.ok) {
      expect(lookup.diagnostics.map((d) => d.message)).toEqual([
        expect.stringMatching(
          new RegExp(
            `\\(${Buffer.byteLength(big)} bytes\\); a spec may be at most .* \\(${MAX_SPEC_BYTES} bytes\\)`,
          ),
        ),
      ]);
    }
    s3.destroy();
  });
});
