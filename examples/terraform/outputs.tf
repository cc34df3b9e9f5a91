output "url" {
  description = "Where the preview environment answers."
  value       = "https://${var.stack_id}.${var.domain}"
}

output "id" {
  description = "The environment's id (the app deployment's)."
  value       = terraform_data.app.id
}

output "image" {
  description = "The image the environment runs."
  value       = terraform_data.app.output.image
}

output "replicas" {
  description = "Running instances: 0 while frozen."
  value       = terraform_data.app.output.replicas
}

output "database_password" {
  description = "Sensitive: travels in the report by name only, never by value."
  value       = sha256("${terraform_data.database.id}/${var.stack_id}")
  sensitive   = true
}
