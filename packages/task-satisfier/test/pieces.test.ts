import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  fitDescription,
  loadConfig,
  relativeKey,
  safeDestination,
  salvageIdentity,
} from "@stackseam/task-satisfier";
import { describe, expect, it } from "vitest";
import { LineSplitter, OutputTail } from "../src/output-tail.js";

describe("OutputTail", () => {
  it("keeps only the last bytes and says how much was cut", () => {
    const tail = new OutputTail(10);
    tail.push(Buffer.from("0123456789"));
    tail.push(Buffer.from("abcdef"));
    expect(tail.totalBytes).toBe(16);
    expect(tail.text()).toBe("[… 6 earlier bytes omitted …]\n6789abcdef");
  });

  it("bounds memory for a chunk larger than the limit", () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.alloc(1_000_000, "a"));
    tail.push(Buffer.from("END"));
    expect(tail.text().endsWith("aEND")).toBe(true);
  });

  it("does not start in the middle of a multi-byte character", () => {
    const tail = new OutputTail(5);
    tail.push(Buffer.from("xx€€")); // € is 3 bytes: the kept 5 bytes start inside the first €
    expect(tail.text()).toMatch(/\n€$/);
  });

  it("returns short output unchanged", () => {
    const tail = new OutputTail(100);
    tail.push(Buffer.from("hello"));
    expect(tail.text()).toBe("hello");
  });
});

describe("LineSplitter", () => {
  it("splits across chunks and flushes the rest", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.push(Buffer.from("one\ntw"));
    s.push(Buffer.from("o\r\nthree"));
    s.end();
    expect(lines).toEqual(["one", "two", "three"]);
  });

  it("cuts an endless line into pieces", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 4);
    s.push(Buffer.from("abcdefghij"));
    s.end();
    expect(lines).toEqual(["abcd", "efgh", "ij"]);
  });
});

describe("S3 key mapping", () => {
  it("maps keys under a prefix to relative paths", () => {
    expect(relativeKey("infra/qa/", "infra/qa/main.tf")).toBe("main.tf");
    expect(relativeKey("infra/qa", "infra/qa/modules/db/main.tf")).toBe("modules/db/main.tf");
    expect(relativeKey("infra/qa/main.tf", "infra/qa/main.tf")).toBe("main.tf");
    expect(relativeKey("infra/qa", "infra/qa-old/main.tf")).toBeNull();
    expect(relativeKey("infra/qa/", "infra/qa/modules/")).toBeNull();
  });

  it("refuses paths that would land outside the folder", () => {
    expect(safeDestination("/tmp/w", "main.tf")).toBe("/tmp/w/main.tf");
    expect(safeDestination("/tmp/w", "a/./b.tf")).toBe("/tmp/w/a/b.tf");
    expect(safeDestination("/tmp/w", "../../escape.tf")).toBeNull();
    expect(safeDestination("/tmp/w", "a/../../escape.tf")).toBeNull();
    expect(safeDestination("/tmp/w", "a/..")).toBeNull();
    expect(safeDestination("/tmp/w", "")).toBeNull();
    expect(safeDestination("/tmp/w", "a\0b")).toBeNull();
    // A leading slash is not an absolute path here: it stays inside.
    expect(safeDestination("/tmp/w", "/etc/passwd")).toBe("/tmp/w/etc/passwd");
  });
});

describe("salvageIdentity", () => {
  it("reads stackId, task and token from an otherwise invalid message", () => {
    expect(salvageIdentity('{"stackId":"s-1","task":"infra","token":"t","executor":42}')).toEqual({
      stackId: "s-1",
      task: "infra",
      token: "t",
    });
  });

  it("gives up without all three", () => {
    expect(salvageIdentity("not json")).toBeNull();
    expect(salvageIdentity('{"stackId":"s-1","task":"infra"}')).toBeNull();
    expect(salvageIdentity({ stackId: "../x", task: "infra", token: "t" })).toBeNull();
  });
});

describe("fitDescription", () => {
  it("keeps the head and the tail of a long description", () => {
    const text = `HEAD${"m".repeat(50_000)}TAIL`;
    const fitted = fitDescription(text, 16384);
    expect(fitted.length).toBeLessThanOrEqual(16384);
    expect(fitted.startsWith("HEAD")).toBe(true);
    expect(fitted.endsWith("TAIL")).toBe(true);
    expect(fitted).toContain("[… cut …]");
  });
});

describe("loadConfig", () => {
  it("reads a valid environment with defaults", () => {
    expect(loadConfig({ SQS_EVENT_QUEUE_URL: "http://localhost/q" })).toEqual({
      eventQueueUrl: "http://localhost/q",
      terraformBin: "terraform",
      deadlineMarginMs: 30_000,
      backend: {},
      pluginCacheDir: join(tmpdir(), "stackseam-terraform-plugin-cache"),
      lockTimeoutSeconds: 300,
      heartbeatIntervalMs: 30_000,
    });
    expect(
      loadConfig({
        SQS_EVENT_QUEUE_URL: "http://localhost/q",
        TERRAFORM_BIN: "/opt/bin/tofu",
        TERRAFORM_DEADLINE_MARGIN_MS: "5000",
        TERRAFORM_STATE_BUCKET: "acme-tfstate",
        AWS_REGION: "eu-west-1",
        TERRAFORM_S3_ENDPOINT: "http://127.0.0.1:4566",
        TF_PLUGIN_CACHE_DIR: "/tmp/cache",
        TERRAFORM_PROVIDERS_MIRROR: "/opt/providers",
        TERRAFORM_LOCK_TIMEOUT_SECONDS: "60",
        HEARTBEAT_INTERVAL_SECONDS: "0",
      }),
    ).toEqual({
      eventQueueUrl: "http://localhost/q",
      terraformBin: "/opt/bin/tofu",
      deadlineMarginMs: 5000,
      backend: {
        stateBucket: { bucket: "acme-tfstate", region: "eu-west-1" },
        s3Endpoint: { url: "http://127.0.0.1:4566" },
      },
      pluginCacheDir: "/tmp/cache",
      providersMirror: "/opt/providers",
      lockTimeoutSeconds: 60,
      heartbeatIntervalMs: 0,
      runnerMessageBucket: "acme-tfstate",
    });
  });

  it("lists every problem in one error", () => {
    let error: unknown;
    try {
      loadConfig({ TERRAFORM_BIN: " ", TERRAFORM_DEADLINE_MARGIN_MS: "soon", AWS_ENDPOINT_URL_S3: "nope" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect((error as ConfigError).message).toMatch(
      /SQS_EVENT_QUEUE_URL is required[\s\S]*TERRAFORM_BIN[\s\S]*TERRAFORM_DEADLINE_MARGIN_MS[\s\S]*AWS_ENDPOINT_URL_S3/,
    );
  });
});
