-- Trust I: request ids move to the chassis' caller-scoped idempotency table,
-- generations record the subdistricts they cover (what decides who reaches a
-- draft), and the team history becomes append-only.

-- CreateStaff and ImportBlocks keep their request ids in flatgov_idempotency
-- (per caller and method); the registry's own platform-wide keys are unused.
alter table staff drop column request_id;
alter table generations drop column request_id, drop column request_digest;

-- The subdistricts a generation's blocks lie in, set when it is imported (a
-- discarded draft loses its blocks but keeps this, so it stays visible to
-- the administrators it concerns).
alter table generations add column subdistricts_covered text[] not null default '{}';
update generations g
   set subdistricts_covered = coalesce(
       (select array_agg(distinct b.subdistrict_code order by b.subdistrict_code)
          from generation_blocks b where b.generation_id = g.id),
       g.scope_subdistricts);

-- The team history is only appended to: an entry is in force from its
-- valid_from until the next entry of its block (ties go to the later id); a
-- block whose team ended (it was retired) gets an entry without a team. The
-- application role may then be refused UPDATE and DELETE on it.
alter table block_team_history
    alter column governor drop not null,
    alter column supervisor drop not null,
    add check ((governor is null) = (supervisor is null));
insert into block_team_history (block_code, governor, supervisor, assistants, valid_from)
select ended.block_code, null, null, '[]'::jsonb, ended.valid_to
  from block_team_history ended
 where ended.valid_to is not null
   and not exists (select 1 from block_team_history next
                    where next.block_code = ended.block_code
                      and next.valid_from = ended.valid_to
                      and next.id <> ended.id);
drop index block_team_history_current;
alter table block_team_history drop column valid_to;
create index block_team_history_latest on block_team_history (block_code, valid_from desc, id desc);
drop index block_team_history_block;
