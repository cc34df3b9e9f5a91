// A webhook's signing secret from Secrets Manager (docs/spec-reference.md#notifications): stored as
// text or as binary, and what is said (and retried) when it has no value or cannot be read.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { webhookSecrets } from "../src/notify/webhook-secrets.js";

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hooks/ci-Q1w2E3";
const secrets = () =>
  webhookSecrets({ env: {}, secretsManager: () => new SecretsManagerClient({ region: "eu-west-1" }) });

describe("a webhook secret in Secrets Manager", () => {
  it("may be stored as binary", async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode("bin-s3cr3t") });
    expect(await secrets().resolve({ secretArn: ARN })).toEqual({ ok: true, value: "bin-s3cr3t" });
  });

  it("with no value, or an empty one, is retried later (deploying the value is enough)", async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({}).resolves({ SecretString: "" });
    const s = secrets();
    const none = { ok: false, error: `webhook secret ${ARN} has no value`, permanent: false };
    expect(await s.resolve({ secretArn: ARN })).toEqual(none);
    expect(await s.resolve({ secretArn: ARN })).toEqual(none);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
