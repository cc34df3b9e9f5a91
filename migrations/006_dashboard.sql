-- The dashboard's counts of stacks with a failed task (per machine and state, and the "failed
-- task" filter) read this small partial index instead of every stack's tasks: it holds only the
-- stacks that have a task in ERROR, so it costs a write only when a task fails or is retried.

CREATE INDEX stacks_failed ON stacks (machine, state) WHERE tasks @> '[{"status":"ERROR"}]'::jsonb;
