-- A request_id is now the platform-wide idempotency key (1–128 visible ASCII
-- characters, see flatgov_grpc::request_id), no longer necessarily a UUID.
-- Existing UUIDs keep their canonical text form, so a retry of an earlier
-- request still finds its first result.
do $$
declare
    created_with_request_id text;
begin
    foreach created_with_request_id in array array[
        'activities', 'registrations', 'person_registrations', 'assessments',
        'support_plans', 'support_measures', 'deliveries', 'visits',
        'rights_requests', 'programmes', 'mentors', 'applications', 'proposals'
    ] loop
        execute format(
            'alter table %I alter column request_id type text using request_id::text',
            created_with_request_id
        );
    end loop;
end
$$;
