/** Where a task runs when it names a runner: an ECS Fargate task (the task message's `runner`). */
export interface EcsRunnerSpec {
  type: "ecs";
  cluster: string;
  taskDefinition: string;
  subnets: string[];
  /** Empty: the VPC's default security group. */
  securityGroups: string[];
  assignPublicIp: boolean;
  /** The container of the task definition that runs the runner (default `stackseam-runner`). */
  containerName: string;
}

export const DEFAULT_RUNNER_CONTAINER = "stackseam-runner";

export type RunnerSpecParse = { ok: true; spec: EcsRunnerSpec } | { ok: false; reason: string };

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(nonEmpty);

/** Checks a message's `runner` at run time (it may come from an older spec or a hand-written file). */
export function parseRunnerSpec(runner: unknown): RunnerSpecParse {
  if (typeof runner !== "object" || runner === null || Array.isArray(runner)) {
    return { ok: false, reason: "invalid runner: it must be an object such as {type: ecs, cluster, …}" };
  }
  const r = runner as Record<string, unknown>;
  if (r.type !== "ecs") {
    return { ok: false, reason: `invalid runner: unknown type ${JSON.stringify(r.type)} (known: ecs)` };
  }
  const problems: string[] = [];
  const known = [
    "type",
    "cluster",
    "taskDefinition",
    "subnets",
    "securityGroups",
    "assignPublicIp",
    "containerName",
  ];
  for (const key of Object.keys(r)) if (!known.includes(key)) problems.push(`unknown key "${key}"`);
  if (!nonEmpty(r.cluster)) problems.push("cluster (name or ARN) is required");
  if (!nonEmpty(r.taskDefinition)) problems.push("taskDefinition (family[:revision] or ARN) is required");
  if (!strings(r.subnets) || (r.subnets as string[]).length > 16)
    problems.push("subnets must list 1 to 16 subnet ids");
  if (
    r.securityGroups !== undefined &&
    (!Array.isArray(r.securityGroups) || r.securityGroups.length > 5 || !r.securityGroups.every(nonEmpty))
  )
    problems.push("securityGroups must list at most 5 security group ids");
  if (r.assignPublicIp !== undefined && typeof r.assignPublicIp !== "boolean")
    problems.push("assignPublicIp must be true or false");
  if (r.containerName !== undefined && !nonEmpty(r.containerName))
    problems.push("containerName must be a name");
  if (problems.length > 0) return { ok: false, reason: `invalid ecs runner: ${problems.join("; ")}` };
  return {
    ok: true,
    spec: {
      type: "ecs",
      cluster: r.cluster as string,
      taskDefinition: r.taskDefinition as string,
      subnets: r.subnets as string[],
      securityGroups: Array.isArray(r.securityGroups) ? (r.securityGroups as string[]) : [],
      assignPublicIp: r.assignPublicIp === true,
      containerName: nonEmpty(r.containerName) ? r.containerName : DEFAULT_RUNNER_CONTAINER,
    },
  };
}
