//! End-to-end journeys across all eight services, each a separate process,
//! against real PostgreSQL and NATS, with a NATS reader acting as an
//! integrator. Every journey starts its own platform and loads the demo
//! district the way an operator does.

#[path = "journeys/support.rs"]
mod support;

#[path = "journeys/street_light.rs"]
mod street_light;

#[path = "journeys/whistle.rs"]
mod whistle;

#[path = "journeys/crash.rs"]
mod crash;

#[path = "journeys/off_list.rs"]
mod off_list;

#[path = "journeys/needy_person.rs"]
mod needy_person;

#[path = "journeys/redistricting.rs"]
mod redistricting;

#[path = "journeys/one_trace.rs"]
mod one_trace;

#[path = "journeys/disputes.rs"]
mod disputes;
#[path = "journeys/errands.rs"]
mod errands;
#[path = "journeys/feedback.rs"]
mod feedback;
#[path = "journeys/first_day.rs"]
mod first_day;
#[path = "journeys/follow_through.rs"]
mod follow_through;
#[path = "journeys/on_duty.rs"]
mod on_duty;
#[path = "journeys/privacy.rs"]
mod privacy;

use flatgov_journeys::{Platform, SERVICES};
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test]
async fn journey_every_service_runs_as_its_own_process_and_reports_serving() {
    let platform = Platform::start().await;
    for service in SERVICES {
        let status = flatgov_grpc::check_health(&platform.url(service), "")
            .await
            .unwrap();
        assert_eq!(status, ServingStatus::Serving, "{service}");
    }
    let started = std::time::Instant::now();
    platform.load_demo();
    eprintln!("demo loaded in {:?}", started.elapsed());
    platform.load_demo();
    eprintln!("demo loaded twice in {:?}", started.elapsed());
}

#[path = "journeys/operator_cli.rs"]
mod operator_cli;
