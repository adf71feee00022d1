//! Two replicas on one database: what one activates, the other serves promptly.

use std::time::{Duration, Instant};

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{eventually, with_token};

use crate::common::*;

async fn locate_on(
    client: &mut BlockRegistryClient<tonic::transport::Channel>,
    token: &str,
) -> Option<api::Block> {
    client
        .locate_point(with_token(
            api::LocatePointRequest {
                point: Some(GeoPoint {
                    longitude: 112.918,
                    latitude: 27.802,
                    ..Default::default()
                }),
                ..Default::default()
            },
            token,
        ))
        .await
        .ok()
        .and_then(|response| response.into_inner().block)
}

#[tokio::test]
async fn a_replica_serves_another_replicas_activation_and_team_change_within_a_moment() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let other = flatgov_blocks::build(registry.test.env())
        .await
        .expect("second replica");
    let mut other_client = BlockRegistryClient::connect(other.grpc_url())
        .await
        .expect("connect");
    let admin = registry.admin.clone();
    assert!(
        locate_on(&mut other_client, &admin).await.is_none(),
        "nothing in force yet"
    );

    let started = Instant::now();
    registry.activate_blocks(tiling()).await;
    let block = eventually(
        "the other replica to serve the activation",
        PATIENCE,
        || async { locate_on(&mut other_client.clone(), &admin).await },
    )
    .await;
    let delay = started.elapsed();
    assert_eq!(block.code, B);
    assert!(delay < Duration::from_secs(5), "took {delay:?}");

    registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{B}"),
                team: Some(api::Team {
                    governor: format!("governor-{E}"),
                    assistants: vec![],
                    supervisor: format!("supervisor-{E}"),
                    members: vec![],
                }),
                generation: String::new(),
            },
            &admin,
        ))
        .await
        .expect("team change on the first replica");
    eventually(
        "the other replica to serve the new team",
        PATIENCE,
        || async {
            let block = locate_on(&mut other_client.clone(), &admin).await?;
            (block.team?.governor == format!("governor-{E}")).then_some(())
        },
    )
    .await;
    other.shutdown().await.expect("shutdown");
    registry.application.shutdown().await.expect("shutdown");
}
