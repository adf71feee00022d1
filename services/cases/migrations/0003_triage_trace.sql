-- The W3C trace context of the request that queued the job, so triage
-- (and the calls it makes to blocks and duties, and the events it
-- publishes) continue the reporter's trace instead of starting a new one.
alter table triage_jobs add column trace_headers jsonb not null default '{}'::jsonb;
