-- Retried creates are now recognised by the chassis' caller-scoped
-- request ids (flatgov_idempotency: per caller and method, with the
-- request's fingerprint), not by ids unique across every caller, which let
-- one caller's id answer another caller with a record it may not see.
-- Ids remembered here before the upgrade are not carried over: a retry
-- across the upgrade records a second refusal, assessment or opinion.
drop index if exists list_versions_publish_request;
alter table list_versions drop column publish_request_id;
alter table refusals drop column request_id;
alter table assessments drop column request_id;
alter table opinions drop column request_id;
