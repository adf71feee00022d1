//! `flatgov events tail`: read the event streams like an integrator and print
//! each event decoded to JSON with its CloudEvents headers.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use flatgov_messaging::{BusConfig, Envelope, EventBus};
use futures::StreamExt as _;
use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::Output;

/// The services whose streams exist.
pub const SERVICES: [&str; 8] = [
    "blocks",
    "duties",
    "cases",
    "enforcement",
    "federation",
    "notices",
    "mediation",
    "errands",
];

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EventsCommand {
    /// Follow events as they are published (Ctrl-C to stop).
    Tail(TailArgs),
    /// Print the AsyncAPI 3 document of every channel (generated from the protos).
    Asyncapi,
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Only this service's stream (blocks, duties, cases, enforcement,
    /// federation, or deadletter); all five services when omitted.
    #[arg(long)]
    service: Option<String>,
    /// Replay each stream from its first retained event instead of only new ones.
    #[arg(long)]
    from_start: bool,
    /// Replay from this instant (RFC 3339, e.g. 2026-11-28T08:00:00+08:00).
    #[arg(long, conflicts_with = "from_start")]
    since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Stop after this many events.
    #[arg(long)]
    limit: Option<usize>,
    /// Stop when no event arrives for this many seconds.
    #[arg(long)]
    idle_timeout: Option<u64>,
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Your NATS credentials (an nkey seed or .creds file), e.g. from
    /// `flatgov integrator credentials`.
    #[arg(long, env = "NATS_CREDENTIALS_FILE")]
    nats_credentials: Option<std::path::PathBuf>,
    /// The authority the NATS server's certificate chains to (TLS when set).
    #[arg(long, env = "NATS_TLS_CA_FILE")]
    nats_ca: Option<std::path::PathBuf>,
    /// Read through the consumer of this name (an integrator's own name: a platform
    /// with NATS accounts lets an integrator use only the consumer named after it),
    /// recreated for this reading. Without it, an ephemeral ordered consumer.
    #[arg(long)]
    consumer: Option<String>,
    /// Test isolation prefix of the platform being read (normally empty).
    #[arg(long, env = "NATS_SUBJECT_PREFIX", default_value = "")]
    subject_prefix: String,
}

pub async fn run(arguments: &EventsArgs, output: Output) -> anyhow::Result<()> {
    match &arguments.command {
        EventsCommand::Tail(tail_arguments) => tail(tail_arguments, output).await,
        EventsCommand::Asyncapi => {
            let descriptors = DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::asyncapi::document(&descriptors))?
            );
            Ok(())
        }
    }
}

async fn tail(arguments: &TailArgs, output: Output) -> anyhow::Result<()> {
    let services: Vec<String> = match &arguments.service {
        Some(service) if SERVICES.contains(&service.as_str()) || service == "deadletter" => {
            vec![service.clone()]
        }
        Some(other) => anyhow::bail!(
            "unknown service {other:?}; choose one of {}, or deadletter",
            SERVICES.join(", ")
        ),
        None => SERVICES.iter().map(|service| service.to_string()).collect(),
    };
    let mut config = BusConfig::plain(arguments.nats_url.clone(), arguments.subject_prefix.clone());
    config.credentials_file = arguments.nats_credentials.clone();
    config.tls_ca_file = arguments.nats_ca.clone();
    let bus = EventBus::connect(&config, "flatgov-cli").await?;
    let descriptors = DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET)
        .context("decoding descriptors")?;
    let deliver_policy = match (&arguments.since, arguments.from_start) {
        (Some(since), _) => DeliverPolicy::ByStartTime {
            start_time: time_from(since)?,
        },
        (None, true) => DeliverPolicy::All,
        (None, false) => DeliverPolicy::New,
    };

    let mut merged = futures::stream::SelectAll::new();
    for service in &services {
        // Read-only: an integrator may not create streams, only read them.
        let stream = bus
            .jetstream()
            .get_stream(bus.stream_name(service))
            .await
            .with_context(|| {
                format!(
                    "cannot open the {service} stream at {} (it appears once the service has started)",
                    arguments.nats_url
                )
            })?;
        match &arguments.consumer {
            // The integrator's own consumer, recreated so this reading starts where asked.
            Some(name) => {
                let _ = stream.delete_consumer(name).await;
                let consumer = stream
                    .create_consumer(pull::Config {
                        durable_name: Some(name.clone()),
                        deliver_policy,
                        ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
                        inactive_threshold: Duration::from_secs(3600),
                        ..Default::default()
                    })
                    .await
                    .with_context(|| {
                        format!("cannot create the consumer {name} on the {service} stream")
                    })?;
                merged.push(
                    consumer
                        .messages()
                        .await?
                        .map(|item| item.map_err(|error| error.to_string()))
                        .boxed(),
                );
            }
            // An ordered consumer: ephemeral, flow-controlled, never acks, the way an
            // integrator on a platform without accounts replays a stream.
            None => {
                let consumer = stream
                    .create_consumer(pull::OrderedConfig {
                        deliver_policy,
                        ..Default::default()
                    })
                    .await?;
                merged.push(
                    consumer
                        .messages()
                        .await?
                        .map(|item| item.map_err(|error| error.to_string()))
                        .boxed(),
                );
            }
        }
    }

    let idle = arguments.idle_timeout.map(Duration::from_secs);
    let mut printed = 0usize;
    loop {
        if arguments.limit.is_some_and(|limit| printed >= limit) {
            return Ok(());
        }
        let next = match idle {
            Some(idle) => match tokio::time::timeout(idle, merged.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(()),
            },
            None => tokio::select! {
                next = merged.next() => next,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            },
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(error)) => anyhow::bail!("reading events failed: {error}"),
            None => return Ok(()),
        };
        let canonical = bus
            .canonical(message.subject.as_str())
            .unwrap_or(message.subject.as_str());
        match Envelope::parse(canonical, message.headers.as_ref(), message.payload.clone()) {
            Ok(envelope) => print_event(&envelope, &descriptors, output),
            Err(error) => eprintln!("skipping a message on {canonical}: {error}"),
        }
        printed += 1;
    }
}

fn time_from(
    instant: &chrono::DateTime<chrono::FixedOffset>,
) -> anyhow::Result<time::OffsetDateTime> {
    let nanos = instant
        .timestamp_nanos_opt()
        .with_context(|| format!("{instant} is out of range"))?;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .with_context(|| format!("cannot use {instant} as a start time"))
}

/// The event's headers and its payload decoded with the published protos.
pub fn event_json(envelope: &Envelope, descriptors: &DescriptorPool) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    for (name, values) in envelope.headers.iter() {
        let name: &str = name.as_ref();
        if let Some(value) = values.first() {
            headers.insert(
                name.to_owned(),
                serde_json::Value::String(value.as_str().to_owned()),
            );
        }
    }
    let data = decode_payload(envelope, descriptors);
    serde_json::json!({
        "subject": envelope.subject,
        "headers": headers,
        "data": data,
    })
}

fn decode_payload(envelope: &Envelope, descriptors: &DescriptorPool) -> serde_json::Value {
    let Some(descriptor) = descriptors.get_message_by_name(&envelope.event_type) else {
        return serde_json::json!({ "undecoded_bytes": envelope.payload.len(), "reason": "unknown type" });
    };
    match DynamicMessage::decode(descriptor, envelope.payload.clone()) {
        Ok(message) => serde_json::to_value(&message).unwrap_or(serde_json::Value::Null),
        Err(error) => {
            serde_json::json!({ "undecoded_bytes": envelope.payload.len(), "reason": error.to_string() })
        }
    }
}

fn print_event(envelope: &Envelope, descriptors: &DescriptorPool, output: Output) {
    let json = event_json(envelope, descriptors);
    match output {
        Output::Json => println!("{json}"),
        Output::Table => {
            let time = envelope
                .time
                .map(|time| time.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                .unwrap_or_default();
            println!(
                "{time}  {:<45} {:<40} {}",
                envelope.subject, envelope.resource, json["data"]
            );
        }
    }
}
