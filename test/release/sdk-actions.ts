// From the AWS SDK commands a bundle can send to the IAM actions they need. The esbuild metafile of a
// release bundle lists every module that contributes bytes to the output: the SDK command modules
// in it, and our own source files. A command counts as called when its module is in the bundle AND
// one of our bundled sources constructs it (`new XCommand(`): tree shaking alone is not enough,
// because a dynamic `import("@aws-sdk/client-x")` keeps every command of that client.
// Extend the tables below when the code starts using a new client or a command whose IAM action is
// not named like the command (AWS Service Authorization Reference).

/** IAM service prefix of each `@aws-sdk/client-*` package the functions may use. */
export const SERVICE_PREFIX: Readonly<Record<string, string>> = {
  "client-sqs": "sqs",
  "client-s3": "s3",
  "client-secrets-manager": "secretsmanager",
  "client-lambda": "lambda",
  "client-sns": "sns",
  "client-eventbridge": "events",
  "client-ecs": "ecs",
  "client-scheduler": "scheduler",
  "client-dynamodb": "dynamodb",
  "client-sts": "sts",
};

/** Commands whose IAM action is not `<prefix>:<command name>`; some need a second action. */
export const ACTIONS_OF_COMMAND: Readonly<Record<string, readonly string[]>> = {
  "sqs:SendMessageBatch": ["sqs:SendMessage"],
  "sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
  "sqs:ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
  "s3:ListObjectsV2": ["s3:ListBucket"],
  "s3:ListObjects": ["s3:ListBucket"],
  "s3:HeadObject": ["s3:GetObject"],
  "s3:HeadBucket": ["s3:ListBucket"],
  "lambda:Invoke": ["lambda:InvokeFunction"],
  "lambda:InvokeWithResponseStream": ["lambda:InvokeFunction"],
  "sns:PublishBatch": ["sns:Publish"],
  // RunTask with a task definition that has a task or execution role passes those roles.
  "ecs:RunTask": ["ecs:RunTask", "iam:PassRole"],
};

/** Commands the SDK bundles for its own machinery, never sent by our code. */
export const NOT_CALLED: Readonly<Record<string, string>> = {
  "s3:CreateSession":
    "the S3 client's S3 Express (directory bucket) session middleware references it; Stackseam's buckets are general-purpose buckets, which never create sessions",
};

/** A command module a bundle holds: `@aws-sdk/client-x/…/commands/YCommand.js`. */
export interface BundledCommand {
  client: string;
  command: string;
}

/** The esbuild metafile fields this module reads. */
export interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** Inputs (paths relative to the build's working directory) that contribute bytes to the output. */
function bundledInputs(metafile: Metafile): string[] {
  return Object.entries(metafile.outputs)
    .filter(([name]) => name.endsWith(".mjs") || name.endsWith(".js"))
    .flatMap(([, output]) => Object.entries(output.inputs))
    .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
    .map(([path]) => path);
}

/**
 * The SDK commands a bundle can send: command modules in the output that our bundled sources
 * construct. `readSource` reads one input path (relative to the repository root).
 */
export function bundledCommands(metafile: Metafile, readSource: (path: string) => string): BundledCommand[] {
  const inputs = bundledInputs(metafile);
  const constructed = new Set<string>();
  for (const path of inputs.filter((p) => p.startsWith("packages/") && /\.[cm]?[jt]s$/.test(p))) {
    for (const m of readSource(path).matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g))
      constructed.add(m[1] ?? "");
  }
  const found = new Map<string, BundledCommand>();
  for (const path of inputs) {
    // @aws-sdk/nested-clients are the credential providers' own STS/SSO clients: in Lambda the
    // credentials come from the environment, and they call nothing with the function's role.
    const m = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\/.*\/commands\/([A-Za-z0-9]+)Command\.js$/.exec(
      path,
    );
    if (m?.[1] && m[2] && constructed.has(m[2]))
      found.set(`${m[1]}/${m[2]}`, { client: m[1], command: m[2] });
  }
  return [...found.values()].sort((a, b) =>
    `${a.client}/${a.command}`.localeCompare(`${b.client}/${b.command}`),
  );
}

/** IAM actions of bundled commands; throws naming a client the table above does not know. */
export function actionsOf(commands: readonly BundledCommand[]): { actions: string[]; ignored: string[] } {
  const actions = new Set<string>();
  const ignored: string[] = [];
  for (const { client, command } of commands) {
    const prefix = SERVICE_PREFIX[client];
    if (prefix === undefined) {
      throw new Error(
        `the bundle uses @aws-sdk/${client}, whose IAM prefix is unknown: add it to SERVICE_PREFIX in test/release/sdk-actions.ts`,
      );
    }
    const key = `${prefix}:${command}`;
    if (NOT_CALLED[key] !== undefined) {
      ignored.push(key);
      continue;
    }
    for (const a of ACTIONS_OF_COMMAND[key] ?? [key]) actions.add(a);
  }
  return { actions: [...actions].sort(), ignored };
}
