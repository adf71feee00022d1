-- Reporters' contacts are kept while their case is worked and for
-- CASES_REPORTER_CONTACT_RETENTION_MONTHS after it closes (the return
-- visit and any complaint about the handling need them), then erased by
-- the retention worker (PIPL art. 19, 47). The case itself — what was
-- reported, where, how it was handled — stays: it is the district's record
-- of its work and carries no contact.

-- Cases whose contacts were erased (history: never changed), so the
-- worker does not look at them again and an export can say so.
create table contact_erasures (
    case_id   uuid primary key references cases (id),
    erased_at timestamptz not null
);

-- Erases the contacts of one closed case: the reporter's (case_contacts)
-- and those of the "me too" reports linked to it. `me_too_reports` is
-- append-only for the application role, so the erasure runs with the
-- owner's rights; it acts only on a closed case not yet erased and
-- returns whether it erased it.
create function erase_case_contacts(target uuid, at timestamptz)
returns boolean
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
    if not exists (select 1 from cases where id = target and state = 'closed')
       or exists (select 1 from contact_erasures where case_id = target) then
        return false;
    end if;
    delete from case_contacts where case_id = target;
    update me_too_reports set contact_name = null, contact_phone = null where case_id = target;
    insert into contact_erasures (case_id, erased_at) values (target, at);
    return true;
end
$$;
