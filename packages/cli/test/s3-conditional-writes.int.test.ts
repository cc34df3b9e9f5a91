import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";

// Terraform's S3 backend locks with a conditional create (use_lockfile): PUT with If-None-Match: *
// must fail with 412 when the object exists, or two runs both "hold" the lock.

let aws: TestAws;
beforeAll(async () => {
  aws = await startTestAws({ bucket: "locks" });
});
afterAll(async () => {
  await aws.stop();
});

const put = (Key: string, Body: string, conditional: boolean) =>
  aws.s3.send(
    new PutObjectCommand({ Bucket: "locks", Key, Body, ...(conditional ? { IfNoneMatch: "*" } : {}) }),
  );
const read = async (Key: string) =>
  (await aws.s3.send(new GetObjectCommand({ Bucket: "locks", Key }))).Body?.transformToString();

describe("dev's S3 honours If-None-Match: * on PUT", () => {
  it("creates when absent, refuses with 412 PreconditionFailed when present", async () => {
    await put("state.tflock", "first", true);
    await expect(put("state.tflock", "second", true)).rejects.toMatchObject({
      name: "PreconditionFailed",
      $metadata: { httpStatusCode: 412 },
    });
    expect(await read("state.tflock")).toBe("first");
  });

  it("lets exactly one of many concurrent conditional creates win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => put("race.tflock", `writer-${i}`, true)),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === "fulfilled");
    expect(await read("race.tflock")).toBe(`writer-${winner}`);
  });

  it("leaves unconditional writes alone", async () => {
    await put("plain", "a", false);
    await put("plain", "b", false);
    expect(await read("plain")).toBe("b");
  });
});
