-- The audit trail: who did what, when, with what outcome, under which trace.
-- Never the personal data itself: subjects are token subjects (staff ids,
-- pseudonymous resident ids), resources are resource names.
--
-- Tamper evidence: records form hash chains. Each record's hash covers the
-- previous record's hash in its lane and every field of its own; changing,
-- deleting or inserting a record by hand breaks the chain from there on,
-- and `flatgov audit verify` names the first broken record. Sixteen lanes
-- (chosen by transaction id) keep concurrent writers from queueing on one
-- chain head; each append locks only its lane, until its commit.
--
-- Appending goes only through flatgov_audit_append() (security definer):
-- the application role may execute it and read the table, never insert,
-- update or delete rows itself, so it cannot backdate or forge a record.
create table flatgov_audit (
    id            bigserial   primary key,
    lane          smallint    not null,
    -- Position in the lane's chain, from 1 (or from the pruning anchor).
    sequence      bigint      not null,
    at            timestamptz not null,
    -- The token subject; empty for an anonymous call to a public RPC.
    subject       text        not null,
    -- The caller's roles, comma-separated, and organisation claim.
    roles         text        not null,
    organisation  text        not null,
    -- e.g. flatgov.cases.v1.CaseDispatch and ReportCase.
    service       text        not null,
    method        text        not null,
    -- Resource names the call touched.
    resources     text[]      not null,
    -- The gRPC status code name the caller received: OK, PERMISSION_DENIED, …
    outcome       text        not null,
    -- W3C trace id of the call, empty when tracing was off.
    trace_id      text        not null,
    previous_hash bytea       not null,
    hash          bytea       not null,
    unique (lane, sequence)
);

create index flatgov_audit_at on flatgov_audit (at);
create index flatgov_audit_resources on flatgov_audit using gin (resources);

-- Where a lane's chain continues after records older than the retention
-- period were pruned: the last pruned record's sequence and hash.
create table flatgov_audit_anchor (
    lane      smallint    not null,
    sequence  bigint      not null,
    hash      bytea       not null,
    pruned_at timestamptz not null default now(),
    primary key (lane, sequence)
);

-- The hash of one record, from its fields and its predecessor's hash. The
-- time enters as microseconds since the epoch so no time zone setting can
-- change it.
create function flatgov_audit_hash(
    previous_hash bytea, lane smallint, sequence bigint, at timestamptz,
    subject text, roles text, organisation text, service text, method text,
    resources text[], outcome text, trace_id text
) returns bytea language sql immutable as $$
    select sha256(previous_hash || convert_to(concat_ws(
        chr(31),
        lane::text, sequence::text, (extract(epoch from at) * 1000000)::bigint::text,
        subject, roles, organisation, service, method,
        array_to_string(resources, chr(30)), outcome, trace_id
    ), 'UTF8'))
$$;

create function flatgov_audit_append(
    p_subject text, p_roles text, p_organisation text, p_service text,
    p_method text, p_resources text[], p_outcome text, p_trace_id text
) returns bigint language plpgsql security definer set search_path = public as $$
declare
    v_lane smallint := (txid_current() % 16)::smallint;
    v_at timestamptz := clock_timestamp();
    v_previous_hash bytea;
    v_sequence bigint;
    v_id bigint;
begin
    -- Held until this transaction ends: the next append to the lane reads
    -- this record as its predecessor. Each statement below takes a fresh
    -- snapshot (read committed), so it sees the previous holder's commit.
    perform pg_advisory_xact_lock(1718968641, v_lane);
    select hash, sequence into v_previous_hash, v_sequence
        from flatgov_audit where lane = v_lane order by sequence desc limit 1;
    if v_sequence is null then
        select hash, sequence into v_previous_hash, v_sequence
            from flatgov_audit_anchor where lane = v_lane order by sequence desc limit 1;
    end if;
    v_previous_hash := coalesce(v_previous_hash, '\x'::bytea);
    v_sequence := coalesce(v_sequence, 0) + 1;
    insert into flatgov_audit (lane, sequence, at, subject, roles, organisation, service,
                               method, resources, outcome, trace_id, previous_hash, hash)
    values (v_lane, v_sequence, v_at, p_subject, p_roles, p_organisation, p_service,
            p_method, p_resources, p_outcome, p_trace_id, v_previous_hash,
            flatgov_audit_hash(v_previous_hash, v_lane, v_sequence, v_at, p_subject, p_roles,
                               p_organisation, p_service, p_method, p_resources, p_outcome,
                               p_trace_id))
    returning id into v_id;
    return v_id;
end;
$$;

-- Deletes records older than `keep` (never less than 180 days, the
-- shortest log retention the Cybersecurity Law allows), leaving an anchor
-- per lane so the chains still verify. Returns how many were deleted.
create function flatgov_audit_prune(keep interval) returns bigint
language plpgsql security definer set search_path = public as $$
declare
    v_deleted bigint;
begin
    if keep < interval '180 days' then
        raise exception 'audit retention must be at least 180 days, not %', keep;
    end if;
    insert into flatgov_audit_anchor (lane, sequence, hash)
        select distinct on (lane) lane, sequence, hash from flatgov_audit
        where at < now() - keep order by lane, sequence desc
        on conflict do nothing;
    delete from flatgov_audit where at < now() - keep;
    get diagnostics v_deleted = row_count;
    return v_deleted;
end;
$$;
