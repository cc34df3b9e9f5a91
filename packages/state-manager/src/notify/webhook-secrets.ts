// Where a webhook's signing secret comes from: an environment variable of the State Manager, or a
// Secrets Manager secret read once per container (a rotated secret reaches new containers).
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Notification } from "@stackseam/core";

/** The spec's `webhook.secret`: `{ env: NAME }` or `{ secretArn: ARN }`. */
export type SecretRef = NonNullable<NonNullable<Notification["destination"]["webhook"]>["secret"]>;

/** A secret, or why there is none (as data: the sender retries or gives up on it). */
export type SecretLookup = { ok: true; value: string } | { ok: false; error: string; permanent: boolean };

export interface WebhookSecretsOptions {
  /** The State Manager's environment (where `{env}` secrets are read). */
  env: Readonly<Record<string, string | undefined>>;
  /** The Secrets Manager client, made on first use. */
  secretsManager: () => SecretsManagerClient;
  /** Secrets a spec may never sign with (the database secret): its ids or ARNs. */
  forbiddenSecretIds?: readonly string[];
}

export interface WebhookSecrets {
  resolve(ref: SecretRef): Promise<SecretLookup>;
}

/**
 * Names a spec may not use as a signing secret: the State Manager's own credentials and settings.
 * A spec author could otherwise have the State Manager sign with, say, the database URL and send
 * the signatures to a server of theirs, where a weak password could be guessed offline.
 */
const FORBIDDEN_ENV =
  /^(AWS_|_|LAMBDA_|POSTGRES_|SQS_|MACHINE_|NOTIFICATION_|NODE_|POWERTOOLS_)|^PG[A-Z]+$|^DATABASE_URL$/;

/** The secret resolver of one container: env secrets read at each use, Secrets Manager ones cached. */
export function webhookSecrets(opts: WebhookSecretsOptions): WebhookSecrets {
  const cache = new Map<string, Promise<SecretLookup>>();
  const forbidden = new Set((opts.forbiddenSecretIds ?? []).filter((s) => s !== "").map(secretName));

  async function fetchSecret(arn: string): Promise<SecretLookup> {
    try {
      const res = await opts.secretsManager().send(new GetSecretValueCommand({ SecretId: arn }));
      const value =
        res.SecretString ?? (res.SecretBinary ? Buffer.from(res.SecretBinary).toString("utf8") : undefined);
      if (value === undefined || value === "")
        return { ok: false, error: `webhook secret ${arn} has no value`, permanent: false };
      return { ok: true, value };
    } catch (err) {
      // The error's name only: enough to act on (AccessDeniedException, ResourceNotFoundException).
      const name = (err as { name?: unknown })?.name;
      return {
        ok: false,
        error: `webhook secret ${arn} could not be read (${typeof name === "string" ? name : "error"})`,
        permanent: false,
      };
    }
  }

  return {
    async resolve(ref) {
      if (ref.env !== undefined) {
        if (FORBIDDEN_ENV.test(ref.env))
          return {
            ok: false,
            error: `webhook secret env ${ref.env} is not allowed: it is one of the State Manager's own settings or credentials; use a variable of your own (e.g. STACKSEAM_WEBHOOK_SECRET)`,
            permanent: true,
          };
        const value = opts.env[ref.env];
        if (value === undefined || value === "")
          return {
            ok: false,
            error: `webhook secret env ${ref.env} is not set on the State Manager`,
            permanent: false,
          };
        return { ok: true, value };
      }
      const arn = ref.secretArn ?? "";
      if (forbidden.has(secretName(arn)))
        return {
          ok: false,
          error: `webhook secret ${arn} is the database secret: sign with a secret of its own`,
          permanent: true,
        };
      let found = cache.get(arn);
      if (!found) {
        found = fetchSecret(arn);
        cache.set(arn, found);
      }
      const result = await found;
      // Failures are not kept: the next attempt reads again (the grant or the secret may be fixed).
      if (!result.ok && cache.get(arn) === found) cache.delete(arn);
      return result;
    },
  };
}

/**
 * A secret's name from its id: a name as is; a full ARN without the 6-character suffix Secrets
 * Manager appends (`…:secret:stackseam/db-AbCdEf` → `stackseam/db`); a partial ARN as named.
 */
export function secretName(id: string): string {
  const at = id.indexOf(":secret:");
  if (!id.startsWith("arn:") || at < 0) return id;
  const name = id.slice(at + ":secret:".length);
  return name.replace(/-[A-Za-z0-9]{6}$/, "");
}
