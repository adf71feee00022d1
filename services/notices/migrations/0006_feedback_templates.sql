-- Templates are data: each district may switch a milestone's message off or
-- give it a text of its own (placeholders {case_number}, {handler},
-- {closure}). A milestone without a row here is sent in the built-in zh-CN
-- text. The delivery worker reads the row of the case's district when it
-- sends, before it asks for any contact: a message switched off is recorded
-- as skipped and nobody's contact is fetched.
create table feedback_templates (
    district_code text not null,
    milestone     text not null
                  check (milestone in ('received', 'accepted', 'resolved', 'closed', 'reopened', 'return_visit')),
    enabled       boolean not null,
    -- Empty: the built-in text.
    text          text not null default '',
    -- Who set it (a staff subject, never a resident's).
    updated_by    text not null,
    update_time   timestamptz not null default now(),
    primary key (district_code, milestone)
);
