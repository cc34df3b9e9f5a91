import { createHash } from "node:crypto";
import type { ECSClient, RunTaskCommandInput, RunTaskCommandOutput } from "@aws-sdk/client-ecs";
import { isTransientAwsError, TransientError } from "../errors.js";
import {
  ECS_OVERRIDES_LIMIT,
  type EnvEntry,
  type LaunchResult,
  type MessageStore,
  type RunnerLauncher,
  runnerEnvironment,
} from "./launcher.js";
import { type EcsRunnerSpec, parseRunnerSpec } from "./runner-spec.js";

export interface EcsRunnerLauncherOptions {
  /** Created on first use when absent (the SDK client is only loaded when a runner task arrives). */
  ecs?: ECSClient;
  /** Variables every runner gets besides the message (the event queue, the state bucket…). */
  env: Record<string, string>;
  /** Where a message too big for the overrides goes. */
  store?: MessageStore;
}

/** RunTask's idempotency token: at most 64 characters, so a redelivered message starts no second task. */
export function clientToken(token: string): string {
  return token.length <= 64 ? token : createHash("sha256").update(token).digest("hex");
}

/** The RunTask request for a task message on an ECS runner (the environment already built). */
export function runTaskInput(
  spec: EcsRunnerSpec,
  token: string,
  environment: EnvEntry[],
): RunTaskCommandInput {
  return {
    cluster: spec.cluster,
    taskDefinition: spec.taskDefinition,
    launchType: "FARGATE",
    count: 1,
    startedBy: "stackseam",
    clientToken: clientToken(token),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: spec.subnets,
        ...(spec.securityGroups.length > 0 ? { securityGroups: spec.securityGroups } : {}),
        assignPublicIp: spec.assignPublicIp ? "ENABLED" : "DISABLED",
      },
    },
    overrides: { containerOverrides: [{ name: spec.containerName, environment }] },
  };
}

/**
 * Starts runner tasks on ECS Fargate (`RunTask`): the container runs the runner entry point with
 * the task message in its environment (or in S3 when the 8 KiB override limit is too small).
 */
export function ecsRunnerLauncher(opts: EcsRunnerLauncherOptions): RunnerLauncher {
  let client = opts.ecs;
  return {
    async launch(message, { logger }): Promise<LaunchResult> {
      const parsed = parseRunnerSpec(message.runner);
      if (!parsed.ok) return { ok: false, description: parsed.reason };
      const spec = parsed.spec;
      const fits = (entries: EnvEntry[]) =>
        JSON.stringify({ containerOverrides: [{ name: spec.containerName, environment: entries }] }).length <=
        ECS_OVERRIDES_LIMIT;
      const env = await runnerEnvironment(message, opts.env, fits, opts.store);
      if (!env.ok) return env;
      const { ECSClient, RunTaskCommand } = await import("@aws-sdk/client-ecs");
      client ??= new ECSClient({});
      let res: RunTaskCommandOutput;
      try {
        res = await client.send(new RunTaskCommand(runTaskInput(spec, message.token, env.entries)));
      } catch (err) {
        if (isTransientAwsError(err))
          throw new TransientError("ECS RunTask failed transiently", { cause: err });
        const e = err instanceof Error ? err : new Error(String(err));
        return {
          ok: false,
          description: `starting the ECS runner failed: RunTask on cluster ${spec.cluster}: ${e.name}: ${e.message}`,
        };
      }
      const arn = res.tasks?.[0]?.taskArn;
      if (!arn) {
        const why = (res.failures ?? [])
          .map((f) => [f.reason, f.detail, f.arn].filter(Boolean).join(" "))
          .join("; ");
        return {
          ok: false,
          description: `starting the ECS runner failed: RunTask on cluster ${spec.cluster} started no task${why ? `: ${why}` : ""}`,
        };
      }
      logger.info("runner task started", { runner: "ecs", taskArn: arn, messageVia: env.via });
      return { ok: true, id: arn };
    },
  };
}
