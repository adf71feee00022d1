-- Retries of creates now go through the chassis' caller-scoped
-- `flatgov_idempotency` table: a request id answers only for the caller who
-- sent it, and only for the same content. The service's own request-id
-- columns (unique platform-wide, so one caller's id could answer another's)
-- and their unique indexes go.
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
            'alter table %I drop column request_id',
            created_with_request_id
        );
    end loop;
end
$$;

-- A request to share a person's record with another member organisation,
-- with the person's consent. The requesting organisation named the person
-- by their ID number; it sees `person` only once an organisation that
-- registered the person approves, which adds the requesting organisation
-- to `person_registrations` with the consent recorded here.
create table sharing_requests (
    id                         uuid primary key,
    person                     uuid        not null references people (id),
    requesting_organisation    text        not null references organisations (code),
    requested_by               text        not null,
    reason                     text        not null,
    consent_method             text        not null
        check (consent_method in ('written', 'oral', 'electronic', 'guardian')),
    consent_given_at           timestamptz not null,
    consent_document_reference text        not null default '',
    consent_guardian_name      text        not null default '',
    state                      text        not null default 'pending'
        check (state in ('pending', 'approved', 'declined')),
    decided_by_organisation    text references organisations (code),
    decided_by                 text,
    decided_at                 timestamptz,
    decline_reason             text        not null default '',
    created_at                 timestamptz not null default now(),
    check ((state = 'pending') = (decided_at is null))
);
-- One pending request per person and requesting organisation.
create unique index sharing_requests_one_pending
    on sharing_requests (person, requesting_organisation) where state = 'pending';
create index sharing_requests_by_requester on sharing_requests (requesting_organisation, id);
create index sharing_requests_by_person on sharing_requests (person, id);
