//! Documents generated from the code must match it: `docs/authz.md` is rendered from
//! every service's policy table and the chassis' own. Regenerate with
//! `FLATGOV_UPDATE_DOCS=1 cargo test -p flatgov-journeys --test docs`.

use flatgov_auth::policy::{Audit, Policy, markdown};

fn policies() -> Vec<&'static Policy> {
    let mut policies: Vec<&'static Policy> = vec![
        &flatgov_blocks::policy::POLICY,
        &flatgov_duties::policy::POLICY,
        &flatgov_cases::policy::POLICY,
        &flatgov_enforcement::policy::POLICY,
        &flatgov_federation::policy::POLICY,
        &flatgov_notices::policy::POLICY,
        &flatgov_mediation::policy::POLICY,
        &flatgov_errands::policy::POLICY,
    ];
    policies.extend(flatgov_grpc::authz::CHASSIS_POLICIES);
    policies
}

fn render() -> String {
    let policies = policies();
    let rules: usize = policies.iter().map(|policy| policy.rules.len()).sum();
    let public = policies
        .iter()
        .flat_map(|policy| policy.rules)
        .filter(|rule| {
            rule.grants
                .iter()
                .any(|grant| grant.scope == flatgov_auth::policy::Scope::Public)
        })
        .count();
    let writes = policies
        .iter()
        .flat_map(|policy| policy.rules)
        .filter(|rule| rule.audit == Audit::Write)
        .count();
    let personal = policies
        .iter()
        .flat_map(|policy| policy.rules)
        .filter(|rule| rule.audit == Audit::PersonalRead)
        .count();
    let mut text = format!(
        "# Who may call what\n\n\
         Generated from the policy tables (`services/<svc>/src/policy.rs` and the chassis' \
         `crates/grpc/src/authz.rs`) by `tests/tests/docs.rs`; do not edit by hand. \
         How the tables are enforced, and what a refusal says, is in \
         [architecture.md](architecture.md#authorization-and-audit).\n\n\
         {rules} RPCs, each with a rule: {public} public, {writes} writes and {personal} \
         reads of personal data recorded in the audit trail. An RPC without a rule cannot \
         be called.\n\n\
         Scopes: **public** — anyone, without a token; **everything** — whatever the \
         service holds; **district-wide** — callers whose jurisdiction claim is a whole \
         district; **own** — resources the caller is the subject of (a resident's reports); \
         **own block** — resources in the caller's block (a block-level jurisdiction \
         claim); **jurisdiction** — resources in a division the caller's claims cover; \
         **organisation** — resources held by the caller's organisation (`org` claim); \
         **agency** — operations that summoned the caller's agency; **services: x** — only \
         the named flatgov services, with their own service tokens.\n\n"
    );
    for policy in policies {
        text.push_str(&markdown(policy));
        text.push('\n');
    }
    text
}

#[test]
fn docs_authz_md_is_generated_from_the_policy_tables() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/authz.md");
    let generated = render();
    if std::env::var_os("FLATGOV_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("writing docs/authz.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/authz.md is out of date with the policy tables; regenerate it with \
         FLATGOV_UPDATE_DOCS=1 cargo test -p flatgov-journeys --test docs"
    );
}

#[test]
fn every_policy_table_covers_its_proto_exactly() {
    for policy in policies() {
        if policy.service.starts_with("grpc.") {
            continue;
        }
        assert_eq!(
            flatgov_testkit::authz::uncovered(policy),
            Vec::<String>::new()
        );
    }
}
