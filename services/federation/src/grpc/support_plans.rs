//! Support plans, their measures and deliveries, and visits.

use std::collections::HashMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::words::{self, ProtoWord};
use crate::application::support_plans::{
    self as app, AddMeasure, ClosePlan, ListPlans, ListVisits, LogVisit, MeasureInput, MeasureView,
    NewPlan, PlanInput, Plans, RecordDelivery, measure_name, plan_name,
};
use crate::domain::codes::{Collection, organisation_name, parse_organisation_reference};
use crate::domain::kinds::{MeasureKind, MeasureState, SupportPlanState, VisitKind};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::plans::{DeliveryRow, MeasureRow, VisitRow};
use flatgov_grpc::clock::Received;

/// The most measures one plan is created with.
const MAX_MEASURES: usize = 50;

fn render_measure(row: &MeasureRow, deliveries: &[DeliveryRow]) -> Result<proto::SupportMeasure> {
    Ok(proto::SupportMeasure {
        name: measure_name(row.plan, row.id),
        organisation: organisation_name(&row.organisation),
        kind: MeasureKind::from_stored(&row.kind)?.to_proto(),
        description: row.description.clone(),
        due_time: optional_timestamp(row.due_at),
        state: MeasureState::from_stored(&row.state)?.to_proto(),
        committed_by: row.committed_by.clone(),
        commit_time: Some(timestamp(row.committed_at)),
        complete_time: optional_timestamp(row.completed_at),
        deliveries: deliveries
            .iter()
            .filter(|delivery| delivery.measure == row.id)
            .map(|delivery| proto::Delivery {
                delivered_by: delivery.delivered_by.clone(),
                deliver_time: Some(timestamp(delivery.delivered_at)),
                description: delivery.description.clone(),
                amount_fen: delivery.amount_fen,
                completes_measure: delivery.completes_measure,
            })
            .collect(),
    })
}

fn render_measure_view((row, deliveries): MeasureView) -> Result<proto::SupportMeasure> {
    render_measure(&row, &deliveries)
}

/// Plans with their measures and deliveries, in the order given.
pub(super) fn render(plans: Plans) -> Result<Vec<proto::SupportPlan>> {
    let mut by_plan: HashMap<Uuid, Vec<proto::SupportMeasure>> = HashMap::new();
    for measure in &plans.measures {
        by_plan
            .entry(measure.plan)
            .or_default()
            .push(render_measure(measure, &plans.deliveries)?);
    }
    plans
        .rows
        .into_iter()
        .map(|row| {
            Ok(proto::SupportPlan {
                name: plan_name(row.id),
                person: Collection::People.name(row.person),
                lead_organisation: organisation_name(&row.lead_organisation),
                referral: row
                    .referral
                    .map(|id| Collection::Referrals.name(id))
                    .unwrap_or_default(),
                case: row.case_name.unwrap_or_default(),
                assessment: row
                    .assessment
                    .map(|id| {
                        Collection::People.child_name(row.person, Collection::Assessments, id)
                    })
                    .unwrap_or_default(),
                goal: row.goal,
                state: SupportPlanState::from_stored(&row.state)?.to_proto(),
                measures: by_plan.remove(&row.id).unwrap_or_default(),
                review_time: optional_timestamp(row.review_at),
                created_by: row.created_by,
                create_time: Some(timestamp(row.created_at)),
                close_time: optional_timestamp(row.closed_at),
                close_note: row.close_note,
            })
        })
        .collect()
}

fn render_one(plans: Plans) -> Result<proto::SupportPlan> {
    render(plans)?
        .pop()
        .ok_or_else(|| Error::Corrupt("a support plan read went missing".into()))
}

pub(super) fn render_visit(row: VisitRow) -> Result<proto::Visit> {
    Ok(proto::Visit {
        name: Collection::SupportPlans.child_name(row.plan, Collection::Visits, row.id),
        support_plan: plan_name(row.plan),
        organisation: organisation_name(&row.organisation),
        visited_by: row.visited_by,
        kind: VisitKind::from_stored(&row.kind)?.to_proto(),
        visit_time: Some(timestamp(row.visited_at)),
        notes: row.notes,
    })
}

fn parse_measure(
    violations: &mut Violations,
    prefix: &str,
    input: &proto::MeasureInput,
) -> Option<MeasureInput> {
    let field = format!("{prefix}.organisation");
    let organisation = violations.check(&field, parse_organisation_reference(&input.organisation));
    let kind = violations.check(format!("{prefix}.kind"), words::required(input.kind));
    let description = violations.check(
        format!("{prefix}.description"),
        text::required(&input.description, 1000),
    );
    let due_at = violations.check(
        format!("{prefix}.due_time"),
        parse::optional_time(input.due_time.as_ref()),
    );
    Some(MeasureInput {
        field,
        organisation: organisation?,
        kind: kind?,
        description: description?,
        due_at: due_at?,
    })
}

/// A plan under the field `prefix` (`plan`, `support_plan`). A plan with
/// no measures is refused: joint support means organisations commit.
pub fn parse_plan(
    violations: &mut Violations,
    prefix: &str,
    input: &proto::SupportPlanInput,
) -> Option<PlanInput> {
    let person = violations.check(
        format!("{prefix}.person"),
        Collection::People.parse(&input.person),
    );
    let assessment = violations
        .check(
            format!("{prefix}.assessment"),
            parse::optional(&input.assessment, |value| {
                Collection::People.parse_child(Collection::Assessments, value)
            }),
        )
        .map(|assessment| {
            assessment.map(|(assessed_person, assessment)| {
                (
                    person.is_some_and(|person| person != assessed_person),
                    assessment,
                )
            })
        });
    if let Some(Some((true, _))) = assessment {
        violations.add(
            format!("{prefix}.assessment"),
            "is an assessment of another person",
        );
    }
    let goal = violations.check(format!("{prefix}.goal"), text::optional(&input.goal, 2000));
    let review_at = violations.check(
        format!("{prefix}.review_time"),
        parse::optional_time(input.review_time.as_ref()),
    );
    if input.measures.is_empty() {
        violations.add(
            format!("{prefix}.measures"),
            "a support plan needs at least one measure: each organisation commits what it will deliver",
        );
    }
    if input.measures.len() > MAX_MEASURES {
        violations.add(
            format!("{prefix}.measures"),
            format!(
                "has {} measures; a plan starts with at most {MAX_MEASURES}",
                input.measures.len()
            ),
        );
    }
    let measures: Vec<Option<MeasureInput>> = input
        .measures
        .iter()
        .enumerate()
        .map(|(index, measure)| {
            parse_measure(violations, &format!("{prefix}.measures[{index}]"), measure)
        })
        .collect();
    Some(PlanInput {
        prefix: prefix.to_owned(),
        person: person?,
        assessment: assessment?.map(|(_, assessment)| assessment),
        goal: goal?,
        review_at: review_at?,
        measures: measures.into_iter().collect::<Option<Vec<_>>>()?,
    })
}

impl TryFrom<proto::CreateSupportPlanRequest> for NewPlan {
    type Error = Error;

    fn try_from(request: proto::CreateSupportPlanRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let referral = violations.check(
            "referral",
            parse::optional(&request.referral, |value| {
                Collection::Referrals.parse(value)
            }),
        );
        let plan = match &request.plan {
            Some(plan) => parse_plan(&mut violations, "plan", plan),
            None => {
                violations.add("plan", "must be set");
                None
            }
        };
        finish(violations, || {
            Some(NewPlan {
                plan: plan?,
                referral: referral?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::AddSupportMeasureRequest> for AddMeasure {
    type Error = Error;

    fn try_from(request: proto::AddSupportMeasureRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let plan = violations.check("parent", Collection::SupportPlans.parse(&request.parent));
        let measure = match &request.measure {
            Some(measure) => parse_measure(&mut violations, "measure", measure),
            None => {
                violations.add("measure", "must be set");
                None
            }
        };
        finish(violations, || {
            Some(AddMeasure {
                plan: plan?,
                measure: measure?,
                retry,
            })
        })
    }
}

impl TryFrom<Received<proto::RecordDeliveryRequest>> for RecordDelivery {
    type Error = Error;

    fn try_from(received: Received<proto::RecordDeliveryRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let ids = violations.check(
            "measure",
            Collection::SupportPlans.parse_child(Collection::Measures, &request.measure),
        );
        let description =
            violations.check("description", text::required(&request.description, 1000));
        if request.amount_fen < 0 {
            violations.add("amount_fen", "must not be negative");
        }
        let delivered_at = violations.check(
            "deliver_time",
            parse::past_time(request.deliver_time.as_ref(), now),
        );
        finish(violations, || {
            let (plan, measure) = ids?;
            Some(RecordDelivery {
                plan,
                measure,
                description: description?,
                amount_fen: request.amount_fen,
                delivered_at: delivered_at?,
                completes_measure: request.completes_measure,
                retry,
            })
        })
    }
}

impl TryFrom<Received<proto::LogVisitRequest>> for LogVisit {
    type Error = Error;

    fn try_from(received: Received<proto::LogVisitRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let plan = violations.check("parent", Collection::SupportPlans.parse(&request.parent));
        let kind = violations.check("kind", words::required(request.kind));
        let visited_at = violations.check(
            "visit_time",
            parse::past_time(request.visit_time.as_ref(), now),
        );
        let notes = violations.check("notes", text::optional(&request.notes, 4000));
        finish(violations, || {
            Some(LogVisit {
                plan: plan?,
                kind: kind?,
                visited_at: visited_at?,
                notes: notes?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::CloseSupportPlanRequest> for ClosePlan {
    type Error = Error;

    fn try_from(request: proto::CloseSupportPlanRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let plan = violations.check("name", Collection::SupportPlans.parse(&request.name));
        let state: Option<SupportPlanState> =
            violations.check("state", words::required(request.state));
        if state == Some(SupportPlanState::Active) {
            violations.add(
                "state",
                "must be SUPPORT_PLAN_STATE_COMPLETED or SUPPORT_PLAN_STATE_ENDED",
            );
        }
        let note = violations.check("note", text::required(&request.note, 2000));
        finish(violations, || {
            Some(ClosePlan {
                plan: plan?,
                state: state?,
                note: note?,
            })
        })
    }
}

impl TryFrom<proto::ListSupportPlansRequest> for Listing<ListPlans> {
    type Error = Error;

    fn try_from(mut request: proto::ListSupportPlansRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("support_plans", &request),
            page_size,
            &page_token,
        );
        let person = violations.check(
            "person",
            parse::optional(&request.person, |value| Collection::People.parse(value)),
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let state = violations.check("state", words::optional(request.state));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListPlans {
                    person: person?,
                    organisation: organisation?,
                    state: state?,
                    page,
                },
                paging,
            })
        })
    }
}

impl TryFrom<proto::ListVisitsRequest> for Listing<ListVisits> {
    type Error = Error;

    fn try_from(mut request: proto::ListVisitsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let plan = violations.check("parent", Collection::SupportPlans.parse(&request.parent));
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("visits", &request),
            page_size,
            &page_token,
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListVisits { plan: plan?, page },
                paging,
            })
        })
    }
}

pub async fn create_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let plan = NewPlan::try_from(request)?;
    render_one(app::create(&service.app, access, plan).await?)
}

pub async fn add_support_measure(
    service: &FederationService,
    access: &Access,
    request: proto::AddSupportMeasureRequest,
) -> Result<proto::SupportMeasure> {
    let add = AddMeasure::try_from(request)?;
    render_measure_view(app::add_measure(&service.app, access, add).await?)
}

pub async fn record_delivery(
    service: &FederationService,
    access: &Access,
    request: proto::RecordDeliveryRequest,
) -> Result<proto::SupportMeasure> {
    let delivery = RecordDelivery::try_from(Received::at(request, service.app.now()))?;
    render_measure_view(app::record_delivery(&service.app, access, delivery).await?)
}

pub async fn log_visit(
    service: &FederationService,
    access: &Access,
    request: proto::LogVisitRequest,
) -> Result<proto::Visit> {
    let visit = LogVisit::try_from(Received::at(request, service.app.now()))?;
    render_visit(app::log_visit(&service.app, access, visit).await?)
}

pub async fn list_visits(
    service: &FederationService,
    access: &Access,
    request: proto::ListVisitsRequest,
) -> Result<proto::ListVisitsResponse> {
    let listing = Listing::<ListVisits>::try_from(request)?;
    let mut rows = app::list_visits(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListVisitsResponse {
        visits: rows.into_iter().map(render_visit).collect::<Result<_>>()?,
        next_page_token,
    })
}

pub async fn close_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::CloseSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let close = ClosePlan::try_from(request)?;
    render_one(app::close(&service.app, access, close).await?)
}

pub async fn get_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::GetSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let mut violations = Violations::new();
    let plan = violations.check("name", Collection::SupportPlans.parse(&request.name));
    let plan = finish(violations, || plan)?;
    render_one(app::get(&service.app, access, plan).await?)
}

pub async fn list_support_plans(
    service: &FederationService,
    access: &Access,
    request: proto::ListSupportPlansRequest,
) -> Result<proto::ListSupportPlansResponse> {
    let listing = Listing::<ListPlans>::try_from(request)?;
    let mut plans = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut plans.rows, |row| row.id.to_string());
    Ok(proto::ListSupportPlansResponse {
        support_plans: render(plans)?,
        next_page_token,
    })
}
