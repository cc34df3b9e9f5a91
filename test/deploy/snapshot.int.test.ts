// The whole synthesized template, compared with the committed snapshot: any change to what the app
// deploys shows up in review. Asset hashes (they follow the zip bytes) are replaced by a marker.
import { describe, expect, it } from "vitest";
import { fakeRelease, synth } from "./support.js";

/** The template with every asset hash (64 hex digits, in keys, names and file names) replaced. */
function stable(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, "<asset-hash>"));
}

describe("template snapshot", () => {
  it("matches test/deploy/__snapshots__/stackseam.template.snap (JSON; update with vitest -u)", async () => {
    const { template } = synth(await fakeRelease({ tick: true }), {
      database: {
        kind: "secret",
        secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stackseam/db-AbCdEf",
      },
      terraform: { stateBucket: "acme-tf-state" },
      invokeTargets: ["seed-db", "notify:live"],
    });
    await expect(`${JSON.stringify(stable(template.toJSON()), null, 2)}\n`).toMatchFileSnapshot(
      "__snapshots__/stackseam.template.snap",
    );
  });
});
