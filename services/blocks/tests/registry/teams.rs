//! The 1+N+1 rule on SetBlockTeam, its event, and the team history.

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::BlockTeamChanged;
use flatgov_testkit::{field_violations, with_token};

use crate::common::*;

fn team(governor: &str, assistants: &[(&str, api::AssistantRole)], supervisor: &str) -> api::Team {
    api::Team {
        governor: governor.into(),
        assistants: assistants
            .iter()
            .map(|(staff, role)| api::TeamAssistant {
                staff: (*staff).into(),
                role: *role as i32,
            })
            .collect(),
        supervisor: supervisor.into(),
        members: vec![],
    }
}

async fn set_team(
    registry: &mut Registry,
    code: &str,
    team: api::Team,
) -> Result<api::Block, tonic::Status> {
    registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{code}"),
                team: Some(team),
                generation: String::new(),
            },
            &registry.admin,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// BlockTeamChanged events committed so far, once the relay has published
/// them all: exact, including events a call should not have written.
async fn team_events_written(registry: &Registry) -> usize {
    let bus = registry.test.bus().await;
    flatgov_testkit::events::committed::<BlockTeamChanged>(
        registry.application.pool(),
        &bus,
        "blocks",
        crate::common::PATIENCE,
    )
    .await
    .len()
}

#[tokio::test]
async fn a_new_team_is_in_force_at_once_announced_once_and_the_old_one_stays_in_the_history() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let admin = registry.admin.clone();
    let before = prost_types::Timestamp::from(std::time::SystemTime::now());

    // B's supervisor becomes A's governor; A's old governor moves to assistant.
    let new_team = team(
        &format!("governor-{B}"),
        &[
            (&format!("governor-{A}"), api::AssistantRole::LiaisonCadre),
            (
                &format!("assistant-{A}"),
                api::AssistantRole::OwnersCommitteeMember,
            ),
        ],
        &format!("supervisor-{A}"),
    );
    let block = set_team(&mut registry, A, new_team.clone())
        .await
        .expect("valid team");
    assert_eq!(
        block.team.as_ref().expect("team").governor,
        format!("governor-{B}")
    );
    let located = registry
        .locate(&admin, 112.905, 27.802, None)
        .await
        .expect("A");
    assert_eq!(
        located.team.expect("team"),
        new_team,
        "the lookup serves the new team at once"
    );

    let announced = crate::common::eventually_events(&registry, 5).await;
    let for_a: Vec<&BlockTeamChanged> = announced
        .iter()
        .filter(|event| event.block_code == A)
        .collect();
    assert_eq!(
        for_a.len(),
        2,
        "the first team at activation, then this change"
    );
    assert_eq!(for_a[1].governor, format!("governor-{B}"));
    assert_eq!(
        for_a[1].assistants,
        vec![format!("governor-{A}"), format!("assistant-{A}")]
    );

    // The same team again changes nothing and announces nothing.
    let written = team_events_written(&registry).await;
    set_team(&mut registry, A, new_team)
        .await
        .expect("same team");
    assert_eq!(
        team_events_written(&registry).await,
        written,
        "no event for a no-op"
    );

    let then = registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: format!("blocks/{A}"),
                generation: String::new(),
                at: Some(before),
                view: api::BlockView::Basic as i32,
            },
            &admin,
        ))
        .await
        .expect("A before the change")
        .into_inner();
    assert_eq!(
        then.team.expect("old team").governor,
        format!("governor-{A}")
    );
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn teams_breaking_the_rule_are_refused_naming_the_field_and_change_nothing() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let admin = registry.admin.clone();
    let governor = format!("governor-{A}");
    let supervisor = format!("supervisor-{A}");
    let assistant = format!("assistant-{A}");
    let cases: Vec<(api::Team, &str, &str)> = vec![
        (
            team(&governor, &[], &governor),
            "team.supervisor",
            "is also the governor",
        ),
        (
            team(
                &governor,
                &[(&supervisor, api::AssistantRole::ResidentRepresentative)],
                &supervisor,
            ),
            "team.assistants[0]",
            "may not be on the team",
        ),
        (
            team("", &[], &supervisor),
            "team.governor",
            "exactly one governor",
        ),
        (
            team(&governor, &[], ""),
            "team.supervisor",
            "exactly one supervisor",
        ),
        (
            team(
                &governor,
                &[(&assistant, api::AssistantRole::Unspecified)],
                &supervisor,
            ),
            "team.assistants[0].role",
            "must be one of",
        ),
        (
            team("nobody-17", &[], &supervisor),
            "team.governor",
            "not on the roster",
        ),
        (
            team(
                &governor,
                &[(&governor, api::AssistantRole::LiaisonCadre)],
                &supervisor,
            ),
            "team.governor",
            "also listed as assistant",
        ),
    ];
    for (bad_team, field, words) in cases {
        let refused = set_team(&mut registry, A, bad_team)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{field}");
        let violations = field_violations(&refused);
        assert!(
            violations
                .iter()
                .any(|violation| violation.field == field && violation.description.contains(words)),
            "{field} / {words}: {violations:?}"
        );
    }
    let unknown_block = set_team(
        &mut registry,
        "430302001009009",
        team(&governor, &[], &supervisor),
    )
    .await
    .expect_err("no such block");
    assert_eq!(unknown_block.code(), tonic::Code::NotFound);
    let located = registry
        .locate(&admin, 112.905, 27.802, None)
        .await
        .expect("A");
    assert_eq!(
        located.team.expect("team").assistants.len(),
        1,
        "the team in force is untouched"
    );
    assert_eq!(
        team_events_written(&registry).await,
        4,
        "no event for a refusal"
    );

    // A member of a team in force cannot leave the roster.
    let refused = registry
        .client
        .delete_staff(with_token(
            api::DeleteStaffRequest {
                name: format!("staff/{governor}"),
            },
            &admin,
        ))
        .await
        .expect_err("serving");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains(A), "{}", refused.message());
    registry.application.shutdown().await.expect("shutdown");
}
