/** The executor configs as the Task Satisfier uses them (the spec schema's shapes, checked at run time). */

export type TerraformSource =
  | { type: "s3"; bucket: string; key: string }
  | { type: "local"; location: string };

export interface TerraformConfig {
  action: "apply" | "destroy";
  source: TerraformSource;
  variables?: Record<string, string | number | boolean>;
  metadataVariables?: string[];
}

export interface LambdaConfig {
  name: string;
  qualifier?: string;
  args?: Record<string, unknown>;
}
