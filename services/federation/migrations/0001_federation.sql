-- The mass-organisation federation: member organisations and their staff,
-- and the five joint mechanisms. Enumerations are stored as lower-case
-- words (`published`, `material_aid`) checked here, so the data reads the
-- same without the protos.

-- ------------------------------------------------ organisations, staff

create table organisations (
    code            text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    display_name    text        not null,
    display_name_en text        not null,
    short_name      text        not null,
    description     text        not null default '',
    active          boolean     not null default true,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- The ten district mass organisations merged into one command. Codes are
-- stable: they are the `org` claim of staff tokens and appear in events.
insert into organisations (code, display_name, display_name_en, short_name, description) values
    ('communist_youth_league', '共青团区委员会', 'Communist Youth League District Committee', '团区委',
     'Youth work: Youth Home and Youth Night School, volunteers, young entrepreneurs, youth rights (12355).'),
    ('womens_federation', '区妇女联合会', 'District Women''s Federation', '妇联',
     'Women and children: family services, rights protection (12338), women''s entrepreneurship.'),
    ('disabled_persons_federation', '区残疾人联合会', 'District Disabled Persons'' Federation', '残联',
     'People with disabilities: rehabilitation, assistive devices, employment, rights protection.'),
    ('federation_of_trade_unions', '区总工会', 'District Federation of Trade Unions', '总工会',
     'Workers: wage and labour rights (12351), hardship relief for workers, skills training.'),
    ('red_cross', '区红十字会', 'District Red Cross Society', '红十字会',
     'Humanitarian aid, emergency relief, first-aid training, blood and organ donation.'),
    ('science_technology_association', '区科学技术协会', 'District Association for Science and Technology', '科协',
     'Popular science, scientists and engineers, innovation support.'),
    ('returned_overseas_chinese_federation', '区归国华侨联合会', 'District Federation of Returned Overseas Chinese', '侨联',
     'Returned overseas Chinese and their families: services and rights protection.'),
    ('literary_art_federation', '区文学艺术界联合会', 'District Federation of Literary and Art Circles', '文联',
     'Writers and artists; cultural activities for residents.'),
    ('industry_commerce_federation', '区工商业联合会', 'District Federation of Industry and Commerce', '工商联',
     'Private enterprises and the self-employed: services, rights protection, entrepreneurship.'),
    ('family_planning_association', '区计划生育协会', 'District Family Planning Association', '计生协',
     'Family health, care for families in special difficulty, childcare support.');

-- Staff of member organisations: who holds which permission beyond the
-- role `federation_staff`. `staff_id` is the `sub` claim of their tokens.
create table staff (
    organisation text        not null references organisations (code),
    staff_id     text        not null check (length(staff_id) between 1 and 128),
    display_name text        not null,
    position     text        not null default '',
    permissions  text[]      not null default '{}'
        check (permissions <@ array['people_register', 'people_register_all', 'manage_staff']),
    active       boolean     not null default true,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    primary key (organisation, staff_id)
);

-- ------------------------------------------- 1. joint theme activities

create table series (
    code            text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    display_name    text        not null,
    display_name_en text        not null default '',
    organisation    text        not null references organisations (code),
    description     text        not null default '',
    created_at      timestamptz not null default now()
);

insert into series (code, display_name, display_name_en, organisation, description) values
    ('youth_home', '青年之家', 'Youth Home', 'communist_youth_league',
     'Community spaces where young residents meet, learn and volunteer.'),
    ('youth_night_school', '青年夜校', 'Youth Night School', 'communist_youth_league',
     'Low-cost evening classes for young working residents: skills, arts, fitness.');

create table activities (
    id                uuid primary key,
    request_id        uuid unique,
    title             text        not null,
    description       text        not null default '',
    series            text references series (code),
    lead_organisation text        not null references organisations (code),
    block_code        text check (block_code ~ '^[0-9]{15}$'),
    venue             text        not null default '',
    starts_at         timestamptz not null,
    ends_at           timestamptz not null check (ends_at > starts_at),
    capacity          integer     not null check (capacity > 0),
    audiences         text[]      not null check (cardinality(audiences) > 0),
    state             text        not null default 'draft'
        check (state in ('draft', 'published', 'held', 'cancelled')),
    summary           text        not null default '',
    created_by        text        not null,
    created_at        timestamptz not null default now(),
    published_at      timestamptz,
    held_at           timestamptz,
    cancelled_at      timestamptz,
    cancel_reason     text        not null default '',
    check (block_code is not null or venue <> '')
);
create index activities_by_start on activities (starts_at, id);
create index activities_by_lead on activities (lead_organisation, starts_at);
create index activities_held on activities (held_at) where state = 'held';

create table activity_co_organisers (
    activity     uuid not null references activities (id),
    organisation text not null references organisations (code),
    primary key (activity, organisation)
);
create index activity_co_organisers_by_organisation on activity_co_organisers (organisation);

create table registrations (
    id                       uuid primary key,
    activity                 uuid        not null references activities (id),
    request_id               uuid unique,
    participant              text        not null,
    participant_display_name text        not null default '',
    status                   text        not null
        check (status in ('confirmed', 'waitlisted', 'cancelled', 'attended')),
    registered_by            text        not null,
    -- Waitlist order: first come, first promoted.
    registered_at            timestamptz not null default clock_timestamp(),
    promoted_at              timestamptz,
    checked_in_at            timestamptz,
    cancelled_at             timestamptz,
    cancel_reason            text        not null default ''
);
-- One live registration per participant and activity.
create unique index registrations_live_participant on registrations (activity, participant)
    where status <> 'cancelled';
create index registrations_by_activity on registrations (activity, status, registered_at, id);

-- ------------------------------- 2. joint support for people in difficulty

-- The key that turns ID numbers into identity keys (HMAC-SHA256). Its
-- fingerprint guards against starting with a different key, which would
-- silently stop recognising registered people. The key itself is kept
-- here only when no key file is configured.
create table identity_key (
    singleton   boolean primary key default true check (singleton),
    fingerprint bytea       not null,
    key         bytea,
    created_at  timestamptz not null default now()
);

-- Personal data. `identity_key` is HMAC-SHA256 of the normalised ID number
-- under the service's secret key: one person, however many organisations
-- register them. The ID number itself is never stored.
create table people (
    id               uuid primary key,
    identity_key     bytea       not null unique,
    full_name        text        not null,
    id_number_masked text        not null,
    gender           text        not null check (gender in ('female', 'male')),
    birth_date       date        not null,
    phone            text        not null default '',
    address          text        not null default '',
    block_code       text check (block_code ~ '^[0-9]{15}$'),
    categories       text[]      not null check (cardinality(categories) > 0),
    circumstances    text        not null default '',
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index people_by_block on people (block_code);

create table person_registrations (
    person                     uuid        not null references people (id),
    organisation               text        not null references organisations (code),
    request_id                 uuid unique,
    registered_by              text        not null,
    registered_at              timestamptz not null default now(),
    consent_method             text        not null
        check (consent_method in ('written', 'oral', 'electronic', 'guardian')),
    consent_given_at           timestamptz not null,
    consent_document_reference text        not null default '',
    consent_guardian_name      text        not null default '',
    primary key (person, organisation)
);
create index person_registrations_by_organisation on person_registrations (organisation);

create table assessments (
    id           uuid primary key,
    person       uuid        not null references people (id),
    request_id   uuid unique,
    organisation text        not null references organisations (code),
    assessed_by  text        not null,
    assessed_at  timestamptz not null,
    -- [{"area": "income", "severity": "high", "description": "…"}]
    needs        jsonb       not null,
    summary      text        not null default '',
    created_at   timestamptz not null default now()
);
create index assessments_by_person on assessments (person, id);

create table referrals (
    id               uuid primary key,
    case_name        text        not null,
    case_kind        text        not null,
    matter_code      text        not null default '',
    block_code       text        not null default '',
    subdistrict_code text        not null default '',
    referred_at      timestamptz not null,
    received_at      timestamptz not null default now(),
    -- `ce-id` of the CaseReferred event that brought it.
    event_id         text        not null,
    state            text        not null default 'pending'
        check (state in ('pending', 'accepted', 'declined')),
    organisation     text references organisations (code),
    decided_by       text,
    decided_at       timestamptz,
    decline_reason   text        not null default '',
    note             text        not null default '',
    check ((state = 'pending') = (decided_at is null))
);
-- The same referral published twice is one referral; a case referred again
-- after a decline is a new one, but never two pending at once.
create unique index referrals_once on referrals (case_name, referred_at);
create unique index referrals_one_pending_per_case on referrals (case_name) where state = 'pending';
create index referrals_by_state on referrals (state, id);

create table support_plans (
    id                uuid primary key,
    request_id        uuid unique,
    person            uuid        not null references people (id),
    lead_organisation text        not null references organisations (code),
    referral          uuid unique references referrals (id),
    assessment        uuid references assessments (id),
    goal              text        not null default '',
    state             text        not null default 'active'
        check (state in ('active', 'completed', 'ended')),
    review_at         timestamptz,
    created_by        text        not null,
    created_at        timestamptz not null default now(),
    closed_at         timestamptz,
    close_note        text        not null default ''
);
create index support_plans_by_person on support_plans (person);
create index support_plans_by_lead on support_plans (lead_organisation);

create table support_measures (
    id           uuid primary key,
    plan         uuid        not null references support_plans (id),
    request_id   uuid unique,
    -- Order within the plan, as committed.
    position     integer     not null,
    organisation text        not null references organisations (code),
    kind         text        not null,
    description  text        not null,
    due_at       timestamptz,
    state        text        not null default 'committed'
        check (state in ('committed', 'delivered', 'withdrawn')),
    committed_by text        not null,
    committed_at timestamptz not null default now(),
    completed_at timestamptz,
    unique (plan, position)
);
create index support_measures_by_organisation on support_measures (organisation, plan);

create table deliveries (
    id                uuid primary key,
    measure           uuid        not null references support_measures (id),
    request_id        uuid unique,
    organisation      text        not null references organisations (code),
    delivered_by      text        not null,
    delivered_at      timestamptz not null,
    description       text        not null,
    amount_fen        bigint      not null default 0 check (amount_fen >= 0),
    completes_measure boolean     not null,
    recorded_at       timestamptz not null default now()
);
create index deliveries_by_measure on deliveries (measure, delivered_at);
create index deliveries_by_organisation on deliveries (organisation, delivered_at);

create table visits (
    id           uuid primary key,
    plan         uuid        not null references support_plans (id),
    request_id   uuid unique,
    organisation text        not null references organisations (code),
    visited_by   text        not null,
    kind         text        not null
        check (kind in ('home_visit', 'phone_call', 'office_meeting', 'video_call')),
    visited_at   timestamptz not null,
    notes        text        not null default '',
    recorded_at  timestamptz not null default now()
);
create index visits_by_plan on visits (plan, id);

-- ------------------------------------- 3. joint rights-protection services

-- Which organisation protects which group: data, so routing can change
-- without a release.
create table rights_routes (
    category     text primary key,
    organisation text not null references organisations (code)
);
insert into rights_routes (category, organisation) values
    ('women', 'womens_federation'),
    ('children', 'womens_federation'),
    ('youth', 'communist_youth_league'),
    ('people_with_disabilities', 'disabled_persons_federation'),
    ('workers', 'federation_of_trade_unions'),
    ('returned_overseas_chinese', 'returned_overseas_chinese_federation'),
    ('private_enterprises', 'industry_commerce_federation');

create table rights_requests (
    id                       uuid primary key,
    request_id               uuid unique,
    category                 text        not null,
    channel                  text        not null,
    organisation             text        not null references organisations (code),
    recorded_by_organisation text        not null references organisations (code),
    recorded_by              text        not null,
    description              text        not null,
    requester_name           text        not null default '',
    requester_phone          text        not null default '',
    block_code               text check (block_code ~ '^[0-9]{15}$'),
    case_name                text,
    state                    text        not null default 'received'
        check (state in ('received', 'in_progress', 'resolved')),
    outcome                  text,
    outcome_note             text        not null default '',
    received_at              timestamptz not null default now(),
    resolved_at              timestamptz,
    updated_at               timestamptz not null default now(),
    check ((state = 'resolved') = (resolved_at is not null))
);
create index rights_requests_by_organisation on rights_requests (organisation, id);
create index rights_requests_by_case on rights_requests (case_name);

create table rights_actions (
    id             uuid primary key,
    rights_request uuid        not null references rights_requests (id),
    kind           text        not null,
    organisation   text        not null references organisations (code),
    recorded_by    text        not null,
    recorded_at    timestamptz not null default clock_timestamp(),
    note           text        not null default ''
);
create index rights_actions_by_request on rights_actions (rights_request, recorded_at, id);

-- ----------------------- 4. joint innovation and entrepreneurship promotion

create table programmes (
    id                 uuid primary key,
    request_id         uuid unique,
    title              text        not null,
    description        text        not null default '',
    kind               text        not null,
    lead_organisation  text        not null references organisations (code),
    audiences          text[]      not null default '{}',
    applications_open  timestamptz not null,
    applications_close timestamptz not null check (applications_close > applications_open),
    places             integer     not null check (places > 0),
    state              text        not null default 'open' check (state in ('open', 'closed')),
    created_by         text        not null,
    created_at         timestamptz not null default now()
);

create table programme_co_organisers (
    programme    uuid not null references programmes (id),
    organisation text not null references organisations (code),
    primary key (programme, organisation)
);
create index programme_co_organisers_by_organisation on programme_co_organisers (organisation);

create table mentors (
    id           uuid primary key,
    request_id   uuid unique,
    display_name text        not null,
    expertise    text[]      not null default '{}',
    organisation text        not null references organisations (code),
    phone        text        not null default '',
    biography    text        not null default '',
    active       boolean     not null default true,
    created_at   timestamptz not null default now()
);

create table applications (
    id              uuid primary key,
    programme       uuid        not null references programmes (id),
    request_id      uuid unique,
    applicant_name  text        not null,
    applicant_phone text        not null default '',
    project_title   text        not null,
    project_summary text        not null default '',
    team_size       integer     not null check (team_size between 1 and 1000),
    block_code      text check (block_code ~ '^[0-9]{15}$'),
    state           text        not null default 'submitted'
        check (state in ('submitted', 'accepted', 'rejected', 'completed')),
    decision_note   text        not null default '',
    decided_by      text,
    decided_at      timestamptz,
    submitted_by    text        not null,
    submitted_at    timestamptz not null default now()
);
create index applications_by_programme on applications (programme, id);

create table application_mentors (
    application uuid        not null references applications (id),
    mentor      uuid        not null references mentors (id),
    assigned_by text        not null,
    assigned_at timestamptz not null default clock_timestamp(),
    primary key (application, mentor)
);
create index application_mentors_by_mentor on application_mentors (mentor);

create table application_progress (
    id          uuid primary key,
    application uuid        not null references applications (id),
    milestone   text        not null,
    note        text        not null default '',
    final       boolean     not null default false,
    recorded_by text        not null,
    recorded_at timestamptz not null default clock_timestamp()
);
create index application_progress_by_application on application_progress (application, recorded_at, id);

-- ------------------------------- 5. joint participation in deliberation

create table proposals (
    id                    uuid primary key,
    request_id            uuid unique,
    title                 text        not null,
    body                  text        not null,
    drafting_organisation text        not null references organisations (code),
    addressee             text        not null,
    session               text        not null default '',
    state                 text        not null default 'draft'
        check (state in ('draft', 'submitted', 'answered')),
    drafted_by            text        not null,
    created_at            timestamptz not null default now(),
    submitted_at          timestamptz,
    response_kind         text,
    responder             text        not null default '',
    response_text         text        not null default '',
    answered_at           timestamptz,
    response_recorded_by  text
);
create index proposals_by_drafter on proposals (drafting_organisation, id);

create table proposal_signatures (
    proposal     uuid        not null references proposals (id),
    organisation text        not null references organisations (code),
    signed_by    text        not null,
    signed_at    timestamptz not null default clock_timestamp(),
    primary key (proposal, organisation)
);
create index proposal_signatures_by_organisation on proposal_signatures (organisation);
