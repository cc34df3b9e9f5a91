// The functions lambda tasks may invoke, as the ARNs IAM matches on lambda:InvokeFunction.

/** One parsed invoke target. */
export interface InvokeTarget {
  name: string;
  /** undefined: unqualified calls only; "*": any version or alias; else one version or alias. */
  qualifier?: string;
  /** Region and account when the target was given as an ARN. */
  region?: string;
  account?: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const QUALIFIER = /^(\*|\$LATEST|[A-Za-z0-9_-]{1,128})$/;
const ARN = /^arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):function:([^:]+)(?::([^:]+))?$/;

/** Parses `name`, `name:qualifier`, `name:*` or an ARN of those forms; returns a problem sentence on error. */
export function parseInvokeTarget(text: string): InvokeTarget | string {
  const arn = ARN.exec(text);
  const [name, qualifier, region, account] = arn
    ? [arn[3] ?? "", arn[4], arn[1], arn[2]]
    : [text.split(":")[0] ?? "", text.includes(":") ? text.slice(text.indexOf(":") + 1) : undefined];
  if (!NAME.test(name))
    return `invoke target ${JSON.stringify(text)}: not a function name, name:qualifier or function ARN`;
  if (qualifier !== undefined && !QUALIFIER.test(qualifier))
    return `invoke target ${JSON.stringify(text)}: ${JSON.stringify(qualifier)} is not a version, alias or *`;
  return {
    name,
    ...(qualifier !== undefined ? { qualifier } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(account !== undefined ? { account } : {}),
  };
}

/** The resource ARN to grant for a target, in the stack's region/account unless the target named its own. */
export function invokeResourceArn(
  target: InvokeTarget,
  where: { partition: string; region: string; account: string },
): string {
  const base = `arn:${where.partition}:lambda:${target.region ?? where.region}:${target.account ?? where.account}:function:${target.name}`;
  return target.qualifier === undefined ? base : `${base}:${target.qualifier}`;
}
