import { execFileSync } from "node:child_process";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  buildCli,
  cli,
  cliOk,
  type DevProcess,
  eventually,
  removeDir,
  startDev,
  tempDataDir,
} from "./dev-harness.js";
import { showStack, stackStateOf, stackTasksOf } from "./stacks.js";

// Issue 14: examples/specs/qa-env-terraform.yml runs examples/terraform/ end to end in `dev` with
// the real `terraform`, its state in dev's own S3 (a backend Stackseam supplies, with a lock file),
// surviving a restart of dev.

function hasTerraform(): boolean {
  try {
    execFileSync("terraform", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const terraform = hasTerraform();
if (!terraform) console.warn("skipping the dev + Terraform end-to-end test: no `terraform` on PATH");

interface State {
  resources: { type: string; name: string; instances: { attributes: Record<string, unknown> }[] }[];
}

describe.skipIf(!terraform)(
  "stackseam dev runs the Terraform example end to end",
  { timeout: 180_000 },
  () => {
    let db: TestDatabase;
    let dataDir: string;
    let dev: DevProcess;

    beforeAll(async () => {
      await buildCli();
      db = await createTestDatabase({ migrate: false });
      dataDir = await tempDataDir();
      dev = await startDev({ dataDir, databaseUrl: db.url });
    });

    afterAll(async () => {
      if (dev) await dev.stop("SIGINT");
      await db?.drop();
      if (dataDir) await removeDir(dataDir);
    });

    async function state(): Promise<State | null> {
      const s3 = new S3Client({
        endpoint: dev.instance().endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      try {
        const res = await s3.send(
          new GetObjectCommand({
            Bucket: "stackseam-terraform-state",
            Key: "qa-env-terraform/tf-1/examples/terraform",
          }),
        );
        return JSON.parse((await res.Body?.transformToString()) ?? "") as State;
      } catch {
        return null;
      } finally {
        s3.destroy();
      }
    }

    const inState = (want: string) => async () => {
      const s = await showStack(dataDir, "tf-1");
      if (s && stackTasksOf(s).some((t) => t.status === "ERROR")) {
        throw new Error(`a task failed: ${JSON.stringify(stackTasksOf(s))}`);
      }
      return s && stackStateOf(s) === want ? s : undefined;
    };
    const app = (s: State | null) => s?.resources.find((r) => r.name === "app")?.instances[0]?.attributes;
    const replicas = (s: State | null) =>
      (app(s)?.input as { value?: { replicas?: number } } | undefined)?.value?.replicas;

    it("LAUNCH → apply → RUN, FREEZE/THAW by re-applying, across a dev restart, DESTROY → destroy", async () => {
      await cliOk(dataDir, [
        "send",
        "tf-1",
        "LAUNCH",
        "--machine",
        "qa-env-terraform",
        "--meta",
        "image_tag=e724e90",
      ]);
      await eventually("tf-1 in RUN", inState("RUN"));
      const launched = await state();
      expect(launched?.resources.map((r) => r.name).sort()).toEqual(["app", "database"]);
      expect(app(launched)?.input).toEqual({
        value: { image: "registry.example.test/api:e724e90", replicas: 1, database: "db-tf-1" },
        type: ["object", { database: "string", image: "string", replicas: "number" }],
      });
      const outputs = await cli(dataDir, ["stacks", "outputs", "tf-1", "url"]);
      if (outputs.code === 0) expect(outputs.stdout.trim()).toBe("https://tf-1.preview.example.test");

      await cliOk(dataDir, ["send", "tf-1", "FREEZE"]);
      await eventually("tf-1 FROZEN", inState("FROZEN"));
      expect(replicas(await state())).toBe(0);
      const appId = app(await state())?.id;

      // The state is in dev's fauxqs, which keeps S3 objects in the data dir: a restart loses nothing.
      expect(await dev.stop("SIGINT")).toBe(0);
      dev = await startDev({ dataDir, databaseUrl: db.url });
      await cliOk(dataDir, ["send", "tf-1", "THAW"]);
      await eventually("tf-1 back in RUN", inState("RUN"));
      const thawed = await state();
      expect(replicas(thawed)).toBe(1);
      expect(app(thawed)?.id).toBe(appId); // the same deployment, updated in place: the state was found

      await cliOk(dataDir, ["send", "tf-1", "DESTROY"]);
      await eventually("tf-1 removed", async () =>
        (await showStack(dataDir, "tf-1")) === null ? true : undefined,
      );
      // Terraform keeps the state object, with nothing left in it.
      expect((await state())?.resources).toEqual([]);
      const history = await cliOk(dataDir, ["stacks", "history", "tf-1"]);
      for (const state of ["PROVISION", "RUN", "FREEZING", "FROZEN", "THAWING", "TEARDOWN"])
        expect(history).toContain(state);
    });
  },
);
