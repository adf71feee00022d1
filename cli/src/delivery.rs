//! `flatgov deadletters list|show|redrive` and `flatgov outbox parked|retry`:
//! the events a service could not deliver, through
//! `flatgov.messaging.v1.EventDelivery` on the service's own port.
//!
//! The CLI never talks to NATS or to a service's database for this: the
//! service reads its dead letters with its own NATS user, redrives them
//! through its own consumer's handler and inbox (applied exactly once), and
//! releases its own parked outbox rows. The caller needs a district
//! administrator's token, and the service audits every redrive and retry
//! (`flatgov audit list --service <svc>`).

use flatgov_proto::messaging::v1 as delivery;

use crate::Output;
use crate::connect::{CallContext as _, Session};
use crate::render::{print_rows, to_json};

/// Which service, and optionally where it is.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// blocks, duties, cases, enforcement, federation, notices, mediation or errands.
    #[arg(long)]
    service: String,
    /// The service's gRPC URL, instead of the one of --service (a replica reached
    /// through a port-forward).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    command: DeadLettersCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DeadLettersCommand {
    /// Dead letters of a service's consumers, oldest first.
    List {
        #[command(flatten)]
        target: Target,
        /// At most this many (all pages are read up to it).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One dead letter: headers, subject, consumer, error, attempts and the
    /// event decoded (events hold ids, codes, states and times only).
    Show {
        #[command(flatten)]
        target: Target,
        /// deadLetters/<number>, as `list` prints it (the number alone will do).
        name: String,
    },
    /// Hands dead letters to their consumer again, once the cause is fixed:
    /// applied exactly once, then removed; one that fails again stays.
    Redrive {
        #[command(flatten)]
        target: Target,
        /// deadLetters/<number> (the number alone will do); several allowed.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Every dead letter of the service.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: OutboxCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OutboxCommand {
    /// Outbox rows parked after repeated publish failures, with the later events
    /// of their resource that wait behind them.
    Parked {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Releases parked rows once the cause is fixed: each is published, then
    /// the events that waited behind it, in order.
    Retry {
        #[command(flatten)]
        target: Target,
        /// parkedEvents/<number> (the number alone will do); several allowed.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Every parked row of the service.
        #[arg(long)]
        all: bool,
    },
}

/// `17` → `deadLetters/17`; a full name is kept as given.
fn full_name(collection: &str, name: &str) -> String {
    let name = name.trim();
    if !name.is_empty() && name.chars().all(|character| character.is_ascii_digit()) {
        format!("{collection}/{name}")
    } else {
        name.to_owned()
    }
}

pub async fn dead_letters(
    arguments: &DeadLettersArgs,
    session: &Session,
    output: Output,
) -> anyhow::Result<()> {
    match &arguments.command {
        DeadLettersCommand::List { target, limit } => {
            let mut client = session.event_delivery(&target.service, target.url.as_deref())?;
            let mut rows = Vec::new();
            let mut page_token = String::new();
            while rows.len() < *limit {
                let page = client
                    .list_dead_letters(delivery::ListDeadLettersRequest {
                        page_size: i32::try_from((limit - rows.len()).min(500)).unwrap_or(500),
                        page_token: page_token.clone(),
                    })
                    .await
                    .doing("listing dead letters")?;
                rows.extend(page.dead_letters.iter().map(dead_letter_row));
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_rows(
                &rows,
                &[
                    "name",
                    "deadLetteredTime",
                    "consumer",
                    "natsSubject",
                    "resource",
                    "attempts",
                    "reason",
                ],
                output,
            );
            Ok(())
        }
        DeadLettersCommand::Show { target, name } => {
            let letter = session
                .event_delivery(&target.service, target.url.as_deref())?
                .get_dead_letter(delivery::GetDeadLetterRequest {
                    name: full_name("deadLetters", name),
                })
                .await
                .doing("reading the dead letter")?;
            let document = shown(&letter);
            match output {
                Output::Json => println!("{document}"),
                Output::Table => print_shown(&document),
            }
            Ok(())
        }
        DeadLettersCommand::Redrive { target, names, all } => {
            let answer = session
                .event_delivery(&target.service, target.url.as_deref())?
                .redrive_dead_letters(delivery::RedriveDeadLettersRequest {
                    names: names
                        .iter()
                        .map(|name| full_name("deadLetters", name))
                        .collect(),
                    all: *all,
                })
                .await
                .doing("redriving dead letters")?;
            let rows: Vec<serde_json::Value> = answer
                .outcomes
                .iter()
                .map(|outcome| to_json(outcome, "flatgov.messaging.v1.RedriveOutcome"))
                .collect();
            print_rows(&rows, &["name", "result", "error"], output);
            let failed = answer
                .outcomes
                .iter()
                .filter(|outcome| outcome.result() == delivery::RedriveResult::Failed)
                .count();
            if failed > 0 {
                anyhow::bail!(
                    "{failed} of {} dead letters failed again and were kept",
                    answer.outcomes.len()
                );
            }
            Ok(())
        }
    }
}

pub async fn outbox(
    arguments: &OutboxArgs,
    session: &Session,
    output: Output,
) -> anyhow::Result<()> {
    match &arguments.command {
        OutboxCommand::Parked { target, limit } => {
            let mut client = session.event_delivery(&target.service, target.url.as_deref())?;
            let mut rows = Vec::new();
            let mut page_token = String::new();
            while rows.len() < *limit {
                let page = client
                    .list_parked_events(delivery::ListParkedEventsRequest {
                        page_size: i32::try_from((limit - rows.len()).min(500)).unwrap_or(500),
                        page_token: page_token.clone(),
                    })
                    .await
                    .doing("listing parked events")?;
                rows.extend(
                    page.parked_events
                        .iter()
                        .map(|event| to_json(event, "flatgov.messaging.v1.ParkedEvent")),
                );
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_rows(
                &rows,
                &[
                    "name",
                    "parkedTime",
                    "resource",
                    "eventType",
                    "attempts",
                    "heldEvents",
                    "lastError",
                ],
                output,
            );
            Ok(())
        }
        OutboxCommand::Retry { target, names, all } => {
            let answer = session
                .event_delivery(&target.service, target.url.as_deref())?
                .retry_parked_events(delivery::RetryParkedEventsRequest {
                    names: names
                        .iter()
                        .map(|name| full_name("parkedEvents", name))
                        .collect(),
                    all: *all,
                })
                .await
                .doing("releasing parked events")?;
            match output {
                Output::Json => println!(
                    "{}",
                    to_json(&answer, "flatgov.messaging.v1.RetryParkedEventsResponse")
                ),
                Output::Table => {
                    let rows: Vec<serde_json::Value> = answer
                        .released
                        .iter()
                        .map(|name| serde_json::json!({ "name": name }))
                        .collect();
                    print_rows(&rows, &["name"], output);
                }
            }
            Ok(())
        }
    }
}

/// A list row: the proto's JSON with the NATS subject under its own key (so
/// the table does not label it like a token's subject).
fn dead_letter_row(letter: &delivery::DeadLetter) -> serde_json::Value {
    let mut row = to_json(letter, "flatgov.messaging.v1.DeadLetter");
    if let serde_json::Value::Object(fields) = &mut row {
        if let Some(subject) = fields.remove("subject") {
            fields.insert("natsSubject".to_owned(), subject);
        }
        fields.remove("headers");
        fields.remove("payload");
    }
    row
}

/// A dead letter with its event decoded through the published protos.
fn shown(letter: &delivery::DeadLetter) -> serde_json::Value {
    let mut document = dead_letter_row(letter);
    let event = crate::render::pool()
        .get_message_by_name(&letter.event_type)
        .and_then(|descriptor| {
            prost_reflect::DynamicMessage::decode(descriptor, letter.payload.as_slice()).ok()
        })
        .and_then(|message| serde_json::to_value(&message).ok())
        .unwrap_or_else(|| serde_json::json!({ "undecoded_bytes": letter.payload.len() }));
    let headers: serde_json::Map<String, serde_json::Value> = letter
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    if let serde_json::Value::Object(fields) = &mut document {
        fields.insert("headers".to_owned(), serde_json::Value::Object(headers));
        fields.insert("data".to_owned(), event);
    }
    document
}

fn print_shown(document: &serde_json::Value) {
    let language = crate::labels::current();
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    if let serde_json::Value::Object(fields) = document {
        for (name, value) in fields {
            let text = match (name.as_str(), value) {
                ("headers", serde_json::Value::Object(headers)) => headers
                    .iter()
                    .map(|(header, value)| {
                        format!("{header}: {}", value.as_str().unwrap_or_default())
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                ("data", data) => serde_json::to_string_pretty(data).unwrap_or_default(),
                _ => crate::labels::value(value, language),
            };
            table.add_row(vec![crate::labels::key(name, language), text]);
        }
    }
    println!("{table}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_number_names_a_resource_of_the_collection() {
        assert_eq!(full_name("deadLetters", "17"), "deadLetters/17");
        assert_eq!(full_name("deadLetters", "deadLetters/17"), "deadLetters/17");
        assert_eq!(full_name("parkedEvents", " 3 "), "parkedEvents/3");
        assert_eq!(full_name("parkedEvents", "x/3"), "x/3");
    }
}
