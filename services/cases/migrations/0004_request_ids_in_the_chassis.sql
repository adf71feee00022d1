-- Request ids are kept by the chassis now (flatgov_idempotency: scoped to the
-- caller and the method, with a fingerprint of the request so the same id with
-- other content is refused). A retry that spans this upgrade is refused as
-- reused instead of answered; the case it created is kept.
drop table intake_requests;
alter table meetings drop column request_id;
