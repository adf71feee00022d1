-- People's data over time (PIPL): consent withdrawal, erasure, retention.
--
-- A person may withdraw their consent to the register at any time (PIPL
-- art. 15); processing stops and the record is anonymised at once (art.
-- 47). A record whose support ended longer ago than the configured
-- retention is anonymised the same way by the retention worker. What is
-- kept after erasure is what the federation must still answer for, with
-- nothing that leads back to the person:
--
-- * the record's id and difficulty categories (counts in the indicators);
-- * each registration's organisation, staff member, time, consent method,
--   consent time and form reference (proof that processing had a lawful
--   basis while it lasted) and the withdrawal itself;
-- * support plans, measures and deliveries with their organisations,
--   kinds, amounts and times (accounts of relief given from public funds);
-- * needs assessments' areas and severities, visits' kinds and times.
--
-- Erased: name, masked ID number, gender, birth date, phone, address,
-- block, circumstances, guardians' names, the words of assessments, visit
-- notes, plan goals and closing notes, the descriptions of measures and
-- deliveries (free text such as "rice and oil to Zhang's home"),
-- sharing-request reasons. The
-- identity key (the keyed hash of the ID number) is replaced by random
-- bytes, so the ID number no longer finds the record and a new
-- registration of the same person, with new consent, starts a new one.

alter table people
    alter column gender drop not null,
    alter column birth_date drop not null,
    add column consent_withdrawn_at timestamptz,
    add column erased_at            timestamptz,
    add column erasure_reason       text
        check (erasure_reason in ('consent_withdrawn', 'retention_expired')),
    add check ((erased_at is null) = (erasure_reason is null));

-- The retention worker looks for records not yet erased.
create index people_not_erased on people (id) where erased_at is null;

-- A person's withdrawal of consent, as recorded by one organisation
-- (history: never changed).
create table consent_withdrawals (
    person             uuid        primary key references people (id),
    organisation       text        not null references organisations (code),
    recorded_by        text        not null,
    method             text        not null
        check (method in ('written', 'oral', 'electronic', 'guardian')),
    withdrawn_at       timestamptz not null,
    document_reference text        not null default '',
    recorded_at        timestamptz not null
);

-- Anonymises one person's record as described above. The history tables
-- (person_registrations, assessments, visits) are append-only for the
-- application role, so the erasure runs with the owner's rights; it acts
-- only on a record that has a reason to be erased and is not yet erased,
-- and returns whether it erased it.
create function erase_person(target uuid, reason text, at timestamptz)
returns boolean
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
    if reason not in ('consent_withdrawn', 'retention_expired') then
        raise exception 'unknown erasure reason %', reason;
    end if;
    update people
       set full_name = '',
           id_number_masked = '',
           gender = null,
           birth_date = null,
           phone = '',
           address = '',
           block_code = null,
           circumstances = '',
           identity_key = uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()),
           erased_at = at,
           erasure_reason = reason,
           updated_at = at
     where id = target and erased_at is null;
    if not found then
        return false;
    end if;
    update person_registrations set consent_guardian_name = '' where person = target;
    update sharing_requests
       set reason = '', consent_guardian_name = '', decline_reason = ''
     where person = target;
    update assessments
       set summary = '',
           needs = coalesce(
               (select jsonb_agg(need || '{"description": ""}'::jsonb)
                  from jsonb_array_elements(needs) as need),
               '[]'::jsonb)
     where person = target;
    update support_plans set goal = '', close_note = '' where person = target;
    update visits set notes = ''
     where plan in (select id from support_plans where person = target);
    update support_measures set description = ''
     where plan in (select id from support_plans where person = target);
    update deliveries set description = ''
     where measure in (select measures.id
                         from support_measures as measures
                         join support_plans as plans on plans.id = measures.plan
                        where plans.person = target);
    return true;
end
$$;
