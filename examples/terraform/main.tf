# A preview environment for one stack, built only on Terraform's built-in `terraform_data`
# resource, so it runs anywhere Terraform does (no provider download, no cloud account). It stands
# in for the real thing — a database, an app service, a DNS name — and behaves like it: created on
# LAUNCH, scaled to zero on FREEZE and back on THAW, replaced when the image changes, destroyed on
# DESTROY. examples/specs/qa-env-terraform.yml runs it; `stackseam dev` gives it an S3 backend.
#
# It declares no backend on purpose: Stackseam supplies one (TERRAFORM_STATE_BUCKET, or dev's own
# bucket) and gives each stack its own state key. Declare an s3 backend here to use your own.

terraform {
  required_version = ">= 1.6"
}

variable "stack_id" {
  description = "The Stackseam stack this environment belongs to (always passed by Stackseam)."
  type        = string
}

variable "image_tag" {
  description = "The API image to run (stack metadata image_tag)."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a container image tag: letters, digits, '.', '_' and '-'."
  }
}

variable "replicas" {
  description = "How many app instances run: 0 while the environment is frozen."
  type        = number
  default     = 1
}

variable "domain" {
  description = "The parent domain of preview URLs."
  type        = string
  default     = "preview.example.test"
}

variable "fail_apply" {
  description = "Set to true (stack metadata fail_apply=true) to see how a failed apply is reported."
  type        = bool
  default     = false
}

resource "terraform_data" "database" {
  input = {
    name = "db-${var.stack_id}"
  }
}

resource "terraform_data" "app" {
  input = {
    image    = "registry.example.test/api:${var.image_tag}"
    replicas = var.replicas
    database = terraform_data.database.output.name
  }

  # A new image is a new deployment, as it would be for a real service.
  triggers_replace = [var.image_tag]

  lifecycle {
    precondition {
      condition     = !var.fail_apply
      error_message = "fail_apply is set for stack ${var.stack_id}: the preview environment refuses to start. Send RETRY_FAILED_TASKS --meta fail_apply=false to try again."
    }
  }
}
