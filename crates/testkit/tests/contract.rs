//! A contract stand-in answers what the test chose over real gRPC, refuses
//! everything else as UNIMPLEMENTED, and frees its port when stopped.

use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{EchoRequest, EchoResponse, RecordRequest};
use flatgov_testkit::contract::Contract;
use flatgov_testkit::{free_port, with_token};
use tonic::{Code, Request, Status};

fn shouting_echo(request: Request<EchoRequest>) -> Result<EchoResponse, Status> {
    if request.metadata().get("authorization").is_none() {
        return Err(Status::unauthenticated("a token is required"));
    }
    Ok(EchoResponse {
        message: request.into_inner().message.to_uppercase(),
    })
}

#[tokio::test]
async fn an_answered_method_replies_from_the_test_and_any_other_is_unimplemented() {
    let port = free_port();
    let running = Contract::new("flatgov.testing.v1.Echo")
        .unary("Echo", shouting_echo)
        .serve(port)
        .await;
    let mut client = EchoClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");

    let answer = client
        .echo(with_token(
            EchoRequest {
                message: "hello".into(),
                delay_millis: 0,
            },
            "any-token",
        ))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(answer.message, "HELLO");

    let unsigned = client
        .echo(EchoRequest {
            message: "hello".into(),
            delay_millis: 0,
        })
        .await
        .expect_err("the answer looks at the metadata");
    assert_eq!(unsigned.code(), Code::Unauthenticated);

    let unanswered = client
        .record(RecordRequest {
            message: "x".into(),
            fail_after_write: false,
            request_id: String::new(),
        })
        .await
        .expect_err("Record is not answered");
    assert_eq!(unanswered.code(), Code::Unimplemented);

    running.stop().await;
    let after_stop = EchoClient::connect(format!("http://127.0.0.1:{port}")).await;
    assert!(after_stop.is_err(), "nothing listens once stopped");
}
