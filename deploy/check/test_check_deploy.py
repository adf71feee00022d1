"""Tests of check_deploy: the checker must find what it claims to find.

Run by scripts/check-deploy before the real checks. The Kubernetes tests take
the overlay that script rendered (FLATGOV_RENDERED_PRODUCTION); run alone,
they render it themselves with the kubectl on PATH.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest
from contextlib import redirect_stdout
from pathlib import Path

import yaml

import check_deploy as checker

REPO = Path(__file__).resolve().parents[2]


def quiet_report() -> checker.Report:
    return checker.Report(quiet=True)


def run_silently(function, *arguments):
    with redirect_stdout(io.StringIO()):
        return function(*arguments)


class EnvironmentVariablesInRust(unittest.TestCase):
    def test_each_form_of_the_config_calls_is_found_with_how_it_is_read(self):
        source = textwrap.dedent(
            """
            let url: Secret<String> = env.required("DATABASE_URL", "a postgres:// URL")?;
            let pool = env.optional("DATABASE_MAX_CONNECTIONS", 10, "a positive integer")?;
            let endpoint = env.maybe::<String>("OTEL_EXPORTER_OTLP_ENDPOINT", "a URL")?;
            let key: PathBuf = env
                .required(
                    "AUTH_SIGNING_KEY_FILE",
                    "a PEM file",
                )?;
            let typed = env.required::<Secret<String>>(  "NATS_URL", "a URL")?;
            """
        )
        self.assertEqual(
            checker.env_vars_in_rust(source),
            {
                "DATABASE_URL": "required",
                "DATABASE_MAX_CONNECTIONS": "optional",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "maybe",
                "AUTH_SIGNING_KEY_FILE": "required",
                "NATS_URL": "required",
            },
        )

    def test_comments_doc_comments_and_test_modules_do_not_count(self):
        source = textwrap.dedent(
            """
            //! Reads `.required("FROM_A_DOC_COMMENT"`.
            /// env.optional("FROM_AN_ITEM_DOC", 1, "x")
            // env.optional("FROM_A_LINE_COMMENT", 1, "x")
            /* env.optional("FROM_A /* NESTED */ BLOCK", 1, "x") */
            fn read(env: &Env) { env.optional("REAL_ONE", 1, "x"); let brace = '{'; let s = "}"; }

            #[cfg(test)]
            mod tests {
                fn inner() { let text = "} still in the test module {"; }
                #[test]
                fn reads() { env.required::<String>("ONLY_IN_A_TEST", "x"); }
            }

            fn after(env: &Env) { env.maybe::<u8>("AFTER_THE_TESTS", "x"); }
            """
        )
        self.assertEqual(
            checker.env_vars_in_rust(source),
            {"REAL_ONE": "optional", "AFTER_THE_TESTS": "maybe"},
        )

    def test_lower_case_fields_of_other_required_apis_are_not_variables(self):
        source = 'let category = record.required("category", problems); let n = row.optional("name");'
        self.assertEqual(checker.env_vars_in_rust(source), {})

    def test_a_variable_read_both_ways_counts_as_required(self):
        source = 'env.optional("SHARED", 1, "x"); env.required::<u8>("SHARED", "x");'
        self.assertEqual(checker.env_vars_in_rust(source), {"SHARED": "required"})

    def test_a_raw_string_with_quotes_and_braces_does_not_derail_the_scan(self):
        source = 'let json = r#"{"a": "}"}"#; env.optional("AFTER_RAW", 1, "x");'
        self.assertEqual(checker.env_vars_in_rust(source), {"AFTER_RAW": "optional"})

    def test_names_passed_through_a_helper_parameter_are_found_at_every_call(self):
        # The shape of services/cases/src/config.rs: a helper reads the
        # variable its caller names, and callers spread over lines and files.
        helper = textwrap.dedent(
            '''
            fn time_limits(
                env: &Env,
                name: &'static str,
                default: TimeLimits,
            ) -> Result<TimeLimits, ConfigError> {
                let Some(text) = env.maybe::<String>(name, EXPECTED)? else { return Ok(default); };
                Ok(parse(name, &text)?)
            }
            impl Settings {
                fn flag(&self, env: &Env, variable: &'static str) -> bool {
                    env.required::<bool>(variable, "true or false").unwrap_or(false)
                }
            }
            fn limits_of(env: &Env, tier: &'static str) -> TimeLimits {
                time_limits(env, tier, DEFAULT)
            }
            '''
        )
        callers = textwrap.dedent(
            '''
            let front = time_limits(env, "CASES_SLA_FRONT_LINE", DEFAULT_FRONT_LINE)?;
            let meeting = time_limits(
                env,
                "CASES_SLA_COORDINATION_MEETING",
                DEFAULT_COORDINATION_MEETING,
            )?;
            let on = settings.flag(env, "SOME_FLAG");
            let whistle = limits_of(env, "CASES_SLA_WHISTLE");
            let not_a_variable = time_limits(env, "lower_case_text", DEFAULT);
            '''
        )
        found, unresolved = checker.env_reads({"config.rs": helper, "lib.rs": callers})
        self.assertEqual(
            {name: how for name, (how, _label) in found.items()},
            {
                "CASES_SLA_FRONT_LINE": "maybe",
                "CASES_SLA_COORDINATION_MEETING": "maybe",
                "CASES_SLA_WHISTLE": "maybe",
                "SOME_FLAG": "required",
            },
        )
        self.assertEqual(found["CASES_SLA_FRONT_LINE"][1], "lib.rs")
        self.assertEqual(unresolved, [])

    def test_a_read_whose_variable_cannot_be_named_is_reported(self):
        source = textwrap.dedent(
            '''
            const NAME: &str = "HIDDEN_BEHIND_A_CONST";
            fn read(env: &Env) -> u8 { env.optional(NAME, 1, "x").unwrap_or(1) }
            fn lower(env: &Env) -> u8 { env.optional("lower_case", 1, "x").unwrap_or(1) }
            '''
        )
        found, unresolved = checker.env_reads({"src/lib.rs": source})
        self.assertEqual(found, {})
        self.assertEqual(len(unresolved), 2, unresolved)
        self.assertTrue(unresolved[0].startswith("src/lib.rs: env.optional(NAME"), unresolved)

    def test_the_real_cases_crate_reads_its_time_limit_variables(self):
        crates = checker.workspace_crates(REPO)
        facts = checker.code_facts(REPO, checker.ServiceSpec("cases", 50053, 9453, "flatgov_cases"), crates)
        for name in ("CASES_SLA_FRONT_LINE", "CASES_SLA_COORDINATION_MEETING", "CASES_SLA_WHISTLE"):
            self.assertEqual(facts.variables.get(name), "maybe", name)
        self.assertEqual(facts.unresolved, [])


class WorkspaceClosure(unittest.TestCase):
    def setUp(self):
        self.directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.directory)

    def write(self, relative: str, text: str) -> None:
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def make_workspace(self, with_main: bool) -> None:
        self.write(
            "Cargo.toml",
            """
            [workspace]
            members = ["crates/chassis", "crates/testkit", "services/demo"]
            [workspace.dependencies]
            flatgov-chassis = { path = "crates/chassis" }
            flatgov-testkit = { path = "crates/testkit" }
            """,
        )
        self.write("crates/chassis/Cargo.toml", '[package]\nname = "flatgov-chassis"\n')
        self.write("crates/chassis/src/lib.rs", 'fn c(env: &Env) { env.required::<String>("NATS_URL", "x"); }')
        self.write("crates/chassis/src/tests.rs", 'fn t(env: &Env) { env.required::<String>("CHASSIS_TEST_ONLY", "x"); }')
        self.write("crates/testkit/Cargo.toml", '[package]\nname = "flatgov-testkit"\n')
        self.write("crates/testkit/src/lib.rs", 'fn t(env: &Env) { env.required::<String>("TESTKIT_ONLY", "x"); }')
        self.write(
            "services/demo/Cargo.toml",
            """
            [package]
            name = "flatgov-demo"
            [dependencies]
            flatgov-chassis.workspace = true
            [dev-dependencies]
            flatgov-testkit.workspace = true
            """,
        )
        self.write(
            "services/demo/src/lib.rs",
            'pub const IDENTITY: ServiceIdentity = ServiceIdentity { grpc_port: 50059, metrics_port: 9459 };\n'
            'fn s(env: &Env) { env.required::<String>("BLOCKS_URL", "x"); }',
        )
        if with_main:
            self.write("services/demo/src/main.rs", "fn main() {}")

    def test_a_service_reads_its_own_and_its_dependencies_variables_but_not_dev_dependencies(self):
        self.make_workspace(with_main=True)
        crates = checker.workspace_crates(self.directory)
        facts = checker.code_facts(self.directory, checker.ServiceSpec("demo", 50059, 9459, "flatgov_demo"), crates)
        self.assertEqual(facts.variables, {"NATS_URL": "required", "BLOCKS_URL": "required"})
        self.assertEqual((facts.grpc_port, facts.metrics_port), (50059, 9459))
        self.assertTrue(facts.has_binary)

    def test_no_variables_is_a_failure_only_once_the_service_binary_exists(self):
        spec = checker.ServiceSpec("demo", 50059, 9459, "flatgov_demo")
        for has_binary, failures in ((False, 0), (True, 1)):
            facts = checker.CodeFacts(has_binary, {}, {}, None, None, ["flatgov-demo"])
            report = quiet_report()
            run_silently(checker.check_variables, report, "compose", spec, facts, {}, set())
            self.assertEqual(len(report.failures), failures, has_binary)


class VariablesAgainstConfiguration(unittest.TestCase):
    spec = checker.ServiceSpec("duties", 50052, 9452, "flatgov_duties")

    def facts(self, variables: dict[str, str]) -> checker.CodeFacts:
        return checker.CodeFacts(True, variables, {name: "src" for name in variables}, None, None, [])

    def failures(self, variables, configured, calls=frozenset()) -> list[str]:
        report = quiet_report()
        run_silently(checker.check_variables, report, "k8s", self.spec, self.facts(variables), configured, set(calls))
        return report.failures

    def test_an_unset_required_variable_is_named(self):
        failures = self.failures({"NATS_URL": "required", "DATABASE_URL": "required"}, {"DATABASE_URL": "x"})
        self.assertEqual(len(failures), 1)
        self.assertIn("NATS_URL (required", failures[0])

    def test_an_optional_variable_on_the_allow_list_may_stay_unset_but_another_may_not(self):
        self.assertEqual(self.failures({"OTEL_EXPORTER_OTLP_ENDPOINT": "maybe"}, {}), [])
        failures = self.failures({"RUST_LOG": "optional"}, {})
        self.assertIn("RUST_LOG (optional", failures[0])

    def test_setting_the_test_only_subject_prefix_fails(self):
        failures = self.failures({"NATS_SUBJECT_PREFIX": "optional"}, {"NATS_SUBJECT_PREFIX": "t1"})
        self.assertTrue(any("NATS_SUBJECT_PREFIX" in failure for failure in failures))

    def test_setting_the_test_only_case_controls_fails_whatever_the_value(self):
        variables = {"CASES_TEST_CONTROLS": "optional"}
        self.assertEqual(self.failures(variables, {}), [])
        for value in ("enabled", "disabled"):
            failures = self.failures(variables, {"CASES_TEST_CONTROLS": value})
            self.assertEqual(len(failures), 1, failures)
            self.assertIn("sets CASES_TEST_CONTROLS, which is for test deployments only", failures[0])

    def test_the_signing_key_is_expected_only_of_a_service_that_calls_another(self):
        variables = {"AUTH_SIGNING_KEY_FILE": "required"}
        self.assertEqual(self.failures(variables, {}), [])
        self.assertEqual(len(self.failures(variables, {}, {"blocks"})), 1)


class ComposeInterpolation(unittest.TestCase):
    def test_defaults_apply_when_unset_or_empty_as_compose_does(self):
        self.assertEqual(checker.interpolate("${A:-x}", {}), "x")
        self.assertEqual(checker.interpolate("${A:-x}", {"A": ""}), "x")
        self.assertEqual(checker.interpolate("${A-x}", {"A": ""}), "")
        self.assertEqual(checker.interpolate("u:${PW:-dev}@h/$${not}", {"PW": "s3"}), "u:s3@h/${not}")

    def test_a_required_compose_variable_without_value_is_an_error(self):
        with self.assertRaises(ValueError):
            checker.interpolate("${SECRET:?set it}", {})


class ComposeMistakesAreCaught(unittest.TestCase):
    """Each test breaks a copy of the real docker-compose.yml in one way."""

    def setUp(self):
        self.directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.directory)
        shutil.copytree(REPO / "deploy", self.directory / "deploy")
        self.original = yaml.safe_load((REPO / "docker-compose.yml").read_text())
        self.services = checker.load_service_table(REPO / "deploy/services.tsv")
        self.facts = {
            name: checker.CodeFacts(False, {}, {}, None, None, []) for name in self.services
        }

    def failures_with(self, document) -> list[str]:
        (self.directory / "docker-compose.yml").write_text(yaml.safe_dump(document, sort_keys=False))
        report = quiet_report()
        run_silently(
            checker.check_compose,
            report,
            self.directory,
            self.directory / "docker-compose.yml",
            self.services,
            self.facts,
            "2.15.1",
        )
        return report.failures

    def test_the_real_file_passes(self):
        self.assertEqual(self.failures_with(self.original), [])

    def test_a_wrong_grpc_port_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["cases"]["environment"]["GRPC_LISTEN_ADDR"] = "0.0.0.0:50059"
        failures = self.failures_with(document)
        self.assertTrue(any("cases GRPC_LISTEN_ADDR port is 50059, expected 50053" in f for f in failures), failures)

    def test_a_missing_service_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["federation"]
        failures = self.failures_with(document)
        self.assertTrue(any("no service named federation" in f for f in failures), failures)

    def test_a_database_password_out_of_step_with_the_init_script_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["postgres"]["environment"]["FLATGOV_DUTIES_DB_PASSWORD"] = "other"
        failures = self.failures_with(document)
        self.assertTrue(any("FLATGOV_DUTIES_DB_PASSWORD differs" in f for f in failures), failures)

    def test_a_health_check_of_the_wrong_binary_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["duties"]["healthcheck"]["test"] = ["CMD", "flatgov-blocks", "health-check"]
        failures = self.failures_with(document)
        self.assertTrue(any("duties health check" in f for f in failures), failures)

    def test_a_missing_gateway_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["gateway"]
        failures = self.failures_with(document)
        self.assertTrue(any("no service named gateway" in f for f in failures), failures)

    def test_a_gateway_given_nats_without_its_own_user_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["gateway"]["environment"]["NATS_CREDENTIALS_FILE"]
        failures = self.failures_with(document)
        self.assertTrue(any("live updates need NATS_URL, NATS_TLS_CA_FILE, NATS_CREDENTIALS_FILE" in f
                            for f in failures), failures)

    def test_a_gateway_reading_another_services_nats_seed_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["gateway"]["environment"]["NATS_CREDENTIALS_FILE"] = "/etc/flatgov/trust/nats.nk"
        failures = self.failures_with(document)
        self.assertTrue(any("gateway NATS_CREDENTIALS_FILE is '/etc/flatgov/trust/nats.nk'" in f
                            for f in failures), failures)

    def test_a_gateway_reading_live_updates_before_nats_is_up_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["gateway"]["depends_on"]["nats"]
        failures = self.failures_with(document)
        self.assertTrue(any("sets NATS_URL but does not wait for healthy nats" in f for f in failures), failures)

    def test_a_gateway_creating_streams_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["gateway"]["environment"]["NATS_STREAM_REPLICAS"] = "3"
        failures = self.failures_with(document)
        self.assertTrue(any("the gateway only reads case events as its own user" in f for f in failures), failures)

    def test_a_gateway_signing_with_a_file_outside_its_volume_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["gateway"]["environment"]["AUTH_SIGNING_KEY_FILE"] = "/etc/flatgov/trust/jwks.json"
        failures = self.failures_with(document)
        self.assertTrue(any("gateway AUTH_SIGNING_KEY_FILE" in f for f in failures), failures)

    def test_a_gateway_missing_a_service_url_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["gateway"]["environment"]["FEDERATION_URL"]
        failures = self.failures_with(document)
        self.assertTrue(any("gateway FEDERATION_URL is None" in f for f in failures), failures)

    def test_a_nats_image_other_than_the_validated_release_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["nats"]["image"] = "nats:2.10.0-alpine"
        failures = self.failures_with(document)
        self.assertTrue(any("differs from nats-server 2.15.1" in f for f in failures), failures)

    def test_enabling_the_case_test_controls_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["cases"]["environment"]["CASES_TEST_CONTROLS"] = "enabled"
        failures = self.failures_with(document)
        self.assertTrue(any("cases sets CASES_TEST_CONTROLS" in f for f in failures), failures)

    def test_a_key_file_outside_the_services_volumes_fails(self):
        document = copy.deepcopy(self.original)
        environment = document["services"]["federation"]["environment"]
        environment["FEDERATION_IDENTITY_KEY_FILE"] = "/etc/flatgov/federation-identity-key"
        failures = self.failures_with(document)
        self.assertTrue(
            any("federation FEDERATION_IDENTITY_KEY_FILE /etc/flatgov/federation-identity-key is in none" in f
                for f in failures),
            failures,
        )


    def test_a_service_mounting_the_key_state_volume_fails(self):
        # The `keys` state volume holds the people key and every service's key.
        document = copy.deepcopy(self.original)
        document["services"]["blocks"]["volumes"].append("keys:/var/lib/flatgov/keys:ro")
        failures = self.failures_with(document)
        self.assertTrue(any("blocks mounts volumes ['flatgov-blocks', 'flatgov-trust', 'keys']" in f
                            for f in failures), failures)

    def test_a_service_mounting_another_services_volume_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["duties"]["volumes"].append("flatgov-cases:/etc/flatgov/cases:ro")
        failures = self.failures_with(document)
        self.assertTrue(any("duties mounts volumes" in f and "flatgov-cases" in f for f in failures), failures)

    def test_a_signing_key_outside_the_services_own_volume_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["cases"]["environment"]["AUTH_SIGNING_KEY_FILE"] = "/etc/flatgov/trust/signing-key.pem"
        failures = self.failures_with(document)
        self.assertTrue(any("cases AUTH_SIGNING_KEY_FILE /etc/flatgov/trust/signing-key.pem is not in its own volume" in f
                            for f in failures), failures)

    def test_a_writable_secret_volume_fails(self):
        document = copy.deepcopy(self.original)
        volumes = document["services"]["federation"]["volumes"]
        volumes[:] = [v.replace(":/etc/flatgov/secrets:ro", ":/etc/flatgov/secrets") for v in volumes]
        failures = self.failures_with(document)
        self.assertTrue(any("federation mounts ['/etc/flatgov/secrets'] writable" in f for f in failures), failures)

    def test_a_database_url_without_verify_full_fails(self):
        document = copy.deepcopy(self.original)
        environment = document["services"]["duties"]["environment"]
        environment["DATABASE_URL"] = environment["DATABASE_URL"].replace("sslmode=verify-full", "sslmode=disable")
        failures = self.failures_with(document)
        self.assertTrue(any("duties DATABASE_URL must say sslmode=verify-full" in f for f in failures), failures)

    def test_a_service_running_as_the_database_owner_fails(self):
        document = copy.deepcopy(self.original)
        environment = document["services"]["duties"]["environment"]
        environment["DATABASE_URL"] = environment["DATABASE_URL"].replace("flatgov_duties_app:", "flatgov_duties:")
        failures = self.failures_with(document)
        self.assertTrue(any("duties DATABASE_URL names role flatgov_duties " in f for f in failures), failures)

    def test_a_service_holding_the_owner_url_fails(self):
        document = copy.deepcopy(self.original)
        migrate = document["services"]["cases-migrate"]["environment"]
        document["services"]["cases"]["environment"]["DATABASE_OWNER_URL"] = migrate["DATABASE_OWNER_URL"]
        failures = self.failures_with(document)
        self.assertTrue(any("cases sets DATABASE_OWNER_URL" in f for f in failures), failures)

    def test_a_missing_migration_one_shot_fails(self):
        document = copy.deepcopy(self.original)
        del document["services"]["enforcement-migrate"]
        del document["services"]["enforcement"]["depends_on"]["enforcement-migrate"]
        failures = self.failures_with(document)
        self.assertTrue(any("no one-shot enforcement-migrate" in f for f in failures), failures)
        self.assertTrue(any("enforcement depends_on conditions" in f for f in failures), failures)

    def test_an_owner_password_out_of_step_with_the_init_script_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["postgres"]["environment"]["FLATGOV_BLOCKS_DB_OWNER_PASSWORD"] = "other"
        failures = self.failures_with(document)
        self.assertTrue(any("blocks-migrate DATABASE_OWNER_URL: postgres FLATGOV_BLOCKS_DB_OWNER_PASSWORD differs" in f
                            for f in failures), failures)

    def test_plaintext_nats_and_grpc_fail(self):
        document = copy.deepcopy(self.original)
        document["services"]["enforcement"]["environment"]["NATS_URL"] = "nats://nats:4222"
        document["services"]["enforcement"]["environment"]["DUTIES_URL"] = "http://duties:50052"
        del document["services"]["blocks"]["environment"]["GRPC_TLS_CERT_FILE"]
        failures = self.failures_with(document)
        self.assertTrue(any("enforcement NATS_URL is 'nats://nats:4222'" in f for f in failures), failures)
        self.assertTrue(any("enforcement DUTIES_URL is 'http://duties:50052'" in f for f in failures), failures)
        self.assertTrue(any("blocks does not set GRPC_TLS_CERT_FILE" in f for f in failures), failures)

    def test_signing_keys_handed_to_other_services_than_the_callers_fail(self):
        document = copy.deepcopy(self.original)
        document["services"]["init"]["environment"]["FLATGOV_CALLERS"] = "cases enforcement federation"
        failures = self.failures_with(document)
        self.assertTrue(any("init FLATGOV_CALLERS is ['cases', 'enforcement', 'federation']" in f for f in failures),
                        failures)

    def test_nats_config_without_tls_or_users_fails(self):
        document = copy.deepcopy(self.original)
        config = self.directory / "deploy/compose/nats.conf"
        text = config.read_text().replace("\ntls {", "\nno_tls {").replace("include ./flatgov/accounts.conf", "")
        config.write_text(text + "\nno_auth_user: anybody\n")
        failures = self.failures_with(document)
        self.assertTrue(any("compose: the NATS config has no top-level tls block" in f for f in failures), failures)
        self.assertTrue(any("every client would be anonymous" in f for f in failures), failures)
        self.assertTrue(any("sets no_auth_user" in f for f in failures), failures)

    def test_postgres_admitting_plaintext_fails(self):
        document = copy.deepcopy(self.original)
        hba = self.directory / "deploy/compose/postgres/pg_hba.conf"
        hba.write_text("local all postgres peer\nhost all all all scram-sha-256\n")
        failures = self.failures_with(document)
        self.assertTrue(any("line 2 admits TCP without requiring TLS" in f for f in failures), failures)
        self.assertTrue(any("no `hostnossl all all all reject` line" in f for f in failures), failures)

    def test_postgres_without_ssl_fails(self):
        document = copy.deepcopy(self.original)
        command = document["services"]["postgres"]["command"]
        command[command.index("ssl=on")] = "ssl=off"
        failures = self.failures_with(document)
        self.assertTrue(any("compose: postgres settings" in f and "lack ssl=on" in f for f in failures), failures)


def rendered_production() -> list[dict]:
    path = os.environ.get("FLATGOV_RENDERED_PRODUCTION")
    if path:
        return checker.load_documents(Path(path))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise unittest.SkipTest("no kubectl on PATH and FLATGOV_RENDERED_PRODUCTION not set")
    output = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy/k8s/overlays/production")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [document for document in yaml.safe_load_all(output) if document]


class KubernetesMistakesAreCaught(unittest.TestCase):
    """Each test breaks the rendered production overlay in one way."""

    @classmethod
    def setUpClass(cls):
        cls.original = rendered_production()
        cls.services = checker.load_service_table(REPO / "deploy/services.tsv")
        # What the code will read once the services exist (the contract).
        common = {
            "DATABASE_URL": "required",
            "DATABASE_OWNER_URL": "maybe",
            "NATS_URL": "required",
            "NATS_CREDENTIALS_FILE": "maybe",
            "NATS_TLS_CA_FILE": "maybe",
            "AUTH_JWKS_FILE": "required",
            "AUTH_AUDIENCE": "optional",
            "AUTH_OIDC_ISSUER": "maybe",
            "GRPC_LISTEN_ADDR": "optional",
            "GRPC_TLS_CERT_FILE": "maybe",
            "GRPC_TLS_KEY_FILE": "maybe",
            "GRPC_TLS_CA_FILE": "maybe",
            "GRPC_TLS_CLIENT_CA_FILE": "maybe",
            "NATS_SUBJECT_PREFIX": "optional",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "maybe",
            "AUTH_SIGNING_KEY_FILE": "required",
        }
        extra = {
            "cases": {"BLOCKS_URL": "required", "DUTIES_URL": "required", "CASES_TEST_CONTROLS": "optional"},
            "enforcement": {"DUTIES_URL": "required"},
            "federation": {"FEDERATION_IDENTITY_KEY_FILE": "maybe"},
            "notices": {"CASES_URL": "required", "BLOCKS_URL": "required"},
            "mediation": {"DUTIES_URL": "maybe"},
        }
        cls.facts = {
            name: checker.CodeFacts(True, {**common, **extra.get(name, {})}, {}, None, None, [])
            for name in cls.services
        }

    def failures_with(self, documents) -> list[str]:
        report = quiet_report()
        run_silently(
            checker.check_kubernetes_overlay,
            report,
            "production",
            documents,
            self.services,
            self.facts,
            "2.15.1",
            None,
        )
        return report.failures

    def find(self, documents, kind, name_prefix):
        return next(d for d in documents if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix))

    def test_the_rendered_overlay_passes(self):
        self.assertEqual(self.failures_with(self.original), [])

    def test_a_native_grpc_probe_which_speaks_no_tls_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.find(documents, "Deployment", "flatgov-duties")["spec"]["template"]["spec"]["containers"][0]
        container["livenessProbe"] = {"grpc": {"port": 50052}, "periodSeconds": 10}
        failures = self.failures_with(documents)
        self.assertTrue(any("duties livenessProbe not an exec probe running `flatgov-duties health-check`" in f
                            for f in failures), failures)

    def test_a_liveness_probe_that_fails_while_a_dependency_is_away_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.find(documents, "Deployment", "flatgov-duties")["spec"]["template"]["spec"]["containers"][0]
        container["livenessProbe"]["exec"]["command"] = ["flatgov-duties", "health-check"]
        failures = self.failures_with(documents)
        self.assertTrue(any("duties livenessProbe not an exec probe" in f and "--live" in f for f in failures), failures)

    def test_a_health_check_of_another_binary_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.find(documents, "Deployment", "flatgov-duties")["spec"]["template"]["spec"]["containers"][0]
        container["readinessProbe"]["exec"]["command"] = ["flatgov-blocks", "health-check"]
        failures = self.failures_with(documents)
        self.assertTrue(any("duties readinessProbe not an exec probe" in f for f in failures), failures)

    def test_egress_to_a_service_the_code_does_not_call_fails(self):
        documents = copy.deepcopy(self.original)
        policy = self.find(documents, "NetworkPolicy", "flatgov-enforcement")
        policy["spec"]["egress"].append(
            {
                "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "flatgov-blocks"}}}],
                "ports": [{"port": 50051, "protocol": "TCP"}],
            }
        )
        failures = self.failures_with(documents)
        self.assertTrue(any("enforcement egress allows ['blocks', 'duties']" in f for f in failures), failures)

    def test_a_missing_call_rule_fails(self):
        documents = copy.deepcopy(self.original)
        policy = next(d for d in documents if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "flatgov-cases")
        policy["spec"]["egress"] = [rule for rule in policy["spec"]["egress"] if 50051 not in checker._rule_ports(rule)]
        failures = self.failures_with(documents)
        self.assertTrue(any("cases egress allows ['duties']" in f for f in failures), failures)

    def test_a_required_variable_missing_from_the_config_fails(self):
        documents = copy.deepcopy(self.original)
        config = self.find(documents, "ConfigMap", "flatgov-common")
        del config["data"]["NATS_URL"]
        failures = self.failures_with(documents)
        self.assertTrue(any("does not set NATS_URL" in f for f in failures), failures)

    def test_a_single_replica_in_production_fails(self):
        documents = copy.deepcopy(self.original)
        self.find(documents, "Deployment", "flatgov-federation")["spec"]["replicas"] = 1
        failures = self.failures_with(documents)
        self.assertTrue(any("federation runs 1 replicas, expected at least 2" in f for f in failures), failures)

    def test_migrating_at_start_in_the_replicas_fails(self):
        documents = copy.deepcopy(self.original)
        self.find(documents, "ConfigMap", "flatgov-common")["data"]["DATABASE_MIGRATE_ON_START"] = "true"
        failures = self.failures_with(documents)
        self.assertTrue(any("DATABASE_MIGRATE_ON_START is 'true'" in f for f in failures), failures)

    def test_a_writable_root_filesystem_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.find(documents, "Deployment", "flatgov-blocks")["spec"]["template"]["spec"]["containers"][0]
        container["securityContext"]["readOnlyRootFilesystem"] = False
        failures = self.failures_with(documents)
        self.assertTrue(any("blocks: root filesystem is writable" in f for f in failures), failures)

    def pod(self, documents, kind, name):
        document = next(d for d in documents if d["kind"] == kind and d["metadata"]["name"].startswith(name))
        return document["spec"]["template"]["spec"]

    def test_federation_without_its_identity_key_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.pod(documents, "Deployment", "flatgov-federation")["containers"][0]
        container["env"] = [v for v in container["env"] if v["name"] != "FEDERATION_IDENTITY_KEY_FILE"]
        failures = self.failures_with(documents)
        self.assertTrue(any("federation does not set FEDERATION_IDENTITY_KEY_FILE" in f for f in failures), failures)

    def test_the_identity_key_mounted_into_another_service_fails(self):
        documents = copy.deepcopy(self.original)
        federation = self.pod(documents, "Deployment", "flatgov-federation")
        volume = next(v for v in federation["volumes"] if v.get("secret", {}).get("secretName") == "flatgov-federation-identity-key")
        self.pod(documents, "Deployment", "flatgov-cases")["volumes"].append(copy.deepcopy(volume))
        failures = self.failures_with(documents)
        self.assertTrue(
            any("flatgov-federation-identity-key must be used by Deployment flatgov-federation only" in f
                and "Deployment flatgov-cases" in f for f in failures),
            failures,
        )

    def test_the_identity_key_mounted_into_the_migration_job_fails(self):
        documents = copy.deepcopy(self.original)
        federation = self.pod(documents, "Deployment", "flatgov-federation")
        volume = next(v for v in federation["volumes"] if v.get("secret", {}).get("secretName") == "flatgov-federation-identity-key")
        self.pod(documents, "Job", "flatgov-federation-migrate")["volumes"].append(copy.deepcopy(volume))
        failures = self.failures_with(documents)
        self.assertTrue(any("Job flatgov-federation-migrate" in f for f in failures), failures)

    def test_a_key_file_variable_pointing_beside_its_mount_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.pod(documents, "Deployment", "flatgov-federation")["containers"][0]
        variable = next(v for v in container["env"] if v["name"] == "FEDERATION_IDENTITY_KEY_FILE")
        variable["value"] = "/etc/flatgov/federation-identity-key/identity-key"
        failures = self.failures_with(documents)
        self.assertTrue(
            any("FEDERATION_IDENTITY_KEY_FILE=/etc/flatgov/federation-identity-key/identity-key is not a file" in f
                and "has no item at identity-key" in f for f in failures),
            failures,
        )

    def test_a_rollout_secret_list_out_of_step_with_the_pods_fails(self):
        expected = set()
        for document in self.original:
            pod = checker.pod_spec_of(document)
            if pod is not None:
                expected |= checker.secret_references(pod)
        self.assertIn(("flatgov-federation-identity-key", "federation-identity-key"), expected)
        listing = "".join(f"{name} {key}\n" for name, key in sorted(expected) if name != "flatgov-federation-identity-key")
        report = quiet_report()
        run_silently(checker.check_rollout_secrets, report, "production", self.original, listing)
        self.assertEqual(len(report.failures), 1)
        self.assertIn("misses [flatgov-federation-identity-key/federation-identity-key]", report.failures[0])

    def env_of(self, documents, kind, name):
        return self.pod(documents, kind, name)["containers"][0]["env"]

    def test_a_deployment_holding_the_owner_url_fails(self):
        documents = copy.deepcopy(self.original)
        self.env_of(documents, "Deployment", "flatgov-duties").append(
            {"name": "DATABASE_OWNER_URL", "valueFrom": {"secretKeyRef": {"name": "flatgov-duties-db-app", "key": "uri"}}}
        )
        failures = self.failures_with(documents)
        self.assertTrue(any("duties sets DATABASE_OWNER_URL, which holds the database owner's credentials" in f
                            for f in failures), failures)

    def test_a_migration_job_without_the_owner_url_fails(self):
        documents = copy.deepcopy(self.original)
        env = self.env_of(documents, "Job", "flatgov-cases-migrate")
        env[:] = [v for v in env if v["name"] not in ("DATABASE_OWNER_URL", "FLATGOV_DATABASE_OWNER_URI")]
        failures = self.failures_with(documents)
        self.assertTrue(any("Job flatgov-cases-migrate" in f and "DATABASE_OWNER_URL must be" in f for f in failures),
                        failures)

    def test_a_migration_job_as_the_application_role_fails(self):
        documents = copy.deepcopy(self.original)
        env = self.env_of(documents, "Job", "flatgov-cases-migrate")
        owner = next(v for v in env if v["name"] == "FLATGOV_DATABASE_OWNER_URI")
        owner["valueFrom"]["secretKeyRef"]["name"] = "flatgov-cases-db-runtime"
        failures = self.failures_with(documents)
        self.assertTrue(any("it must be the owner's secret" in f for f in failures), failures)

    def test_a_database_url_without_verify_full_fails(self):
        documents = copy.deepcopy(self.original)
        variable = next(v for v in self.env_of(documents, "Deployment", "flatgov-blocks") if v["name"] == "DATABASE_URL")
        variable["value"] = variable["value"].replace("sslmode=verify-full", "sslmode=require")
        failures = self.failures_with(documents)
        self.assertTrue(any("blocks: DATABASE_URL must say sslmode=verify-full" in f for f in failures), failures)

    def test_a_database_url_straight_from_a_secret_fails_as_its_tls_cannot_be_seen(self):
        documents = copy.deepcopy(self.original)
        env = self.env_of(documents, "Deployment", "flatgov-blocks")
        env[:] = [v for v in env if v["name"] not in ("DATABASE_URL", "FLATGOV_DATABASE_URI")]
        env.append({"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "flatgov-blocks-db-runtime", "key": "uri"}}})
        failures = self.failures_with(documents)
        self.assertTrue(any("whose TLS settings cannot be seen" in f for f in failures), failures)

    def test_the_application_role_not_managed_by_the_cluster_fails(self):
        documents = copy.deepcopy(self.original)
        cluster = self.find(documents, "Cluster", "flatgov-enforcement-db")
        del cluster["spec"]["managed"]
        failures = self.failures_with(documents)
        self.assertTrue(any("enforcement DATABASE_URL comes from" in f and "flatgov_enforcement_app" in f
                            for f in failures), failures)

    def test_the_people_key_in_a_pod_fails(self):
        documents = copy.deepcopy(self.original)
        self.pod(documents, "Deployment", "flatgov-blocks")["volumes"].append(
            {"name": "people", "secret": {"secretName": "flatgov-blocks-people-key",
                                          "items": [{"key": "people.pem", "path": "people.pem"}]}}
        )
        failures = self.failures_with(documents)
        self.assertTrue(any("no pod may hold the people key" in f for f in failures), failures)

    def test_another_services_signing_key_in_a_pod_fails(self):
        documents = copy.deepcopy(self.original)
        cases = self.pod(documents, "Deployment", "flatgov-cases")
        volume = next(v for v in cases["volumes"] if v.get("secret", {}).get("secretName") == "flatgov-cases-signing-key")
        stolen = copy.deepcopy(volume)
        stolen["name"] = "borrowed"
        stolen["secret"]["secretName"] = "flatgov-enforcement-signing-key"
        cases["volumes"].append(stolen)
        failures = self.failures_with(documents)
        self.assertTrue(any("Deployment flatgov-cases uses secrets ['flatgov-enforcement-signing-key']" in f
                            for f in failures), failures)

    def test_a_gateway_reading_nats_with_another_users_seed_fails(self):
        documents = copy.deepcopy(self.original)
        gateway = self.pod(documents, "Deployment", "flatgov-gateway")
        volume = next(v for v in gateway["volumes"] if v["name"] == "nats-user")
        volume["secret"]["secretName"] = "flatgov-cases-nats-user"
        failures = self.failures_with(documents)
        self.assertTrue(any("gateway NATS_CREDENTIALS_FILE comes from" in f for f in failures), failures)

    def test_a_gateway_whose_policy_keeps_it_from_nats_fails(self):
        documents = copy.deepcopy(self.original)
        policy = next(d for d in documents if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "flatgov-gateway")
        policy["spec"]["egress"] = [
            rule for rule in policy["spec"]["egress"]
            if not any(((peer.get("podSelector") or {}).get("matchLabels") or {}).get("app.kubernetes.io/name") == "nats"
                       for peer in rule.get("to") or [])
        ]
        failures = self.failures_with(documents)
        self.assertTrue(any("does not let it reach NATS on 4222" in f for f in failures), failures)

    def test_another_services_nats_seed_fails(self):
        documents = copy.deepcopy(self.original)
        duties = self.pod(documents, "Deployment", "flatgov-duties")
        volume = next(v for v in duties["volumes"] if v["name"] == "nats-user")
        volume["secret"]["secretName"] = "flatgov-cases-nats-user"
        failures = self.failures_with(documents)
        self.assertTrue(any("flatgov-duties uses secrets ['flatgov-cases-nats-user']" in f for f in failures), failures)

    def test_a_certificate_without_localhost_fails_the_probe(self):
        documents = copy.deepcopy(self.original)
        certificate = self.find(documents, "Certificate", "flatgov-federation-tls")
        certificate["spec"]["dnsNames"].remove("localhost")
        failures = self.failures_with(documents)
        self.assertTrue(any("federation's certificate names" in f and "localhost (the health-check probe)" in f
                            for f in failures), failures)

    def test_plaintext_calls_between_services_fail(self):
        documents = copy.deepcopy(self.original)
        config = self.find(documents, "ConfigMap", "flatgov-cases")
        config["data"]["BLOCKS_URL"] = "http://blocks:50051"
        failures = self.failures_with(documents)
        self.assertTrue(any("cases BLOCKS_URL is 'http://blocks:50051', expected https://blocks:50051" in f
                            for f in failures), failures)

    def test_plaintext_nats_fails(self):
        documents = copy.deepcopy(self.original)
        self.find(documents, "ConfigMap", "flatgov-common")["data"]["NATS_URL"] = "nats://nats:4222"
        failures = self.failures_with(documents)
        self.assertTrue(any("NATS_URL is 'nats://nats:4222', expected tls://nats:4222" in f for f in failures), failures)

    def test_production_without_an_oidc_provider_fails(self):
        documents = copy.deepcopy(self.original)
        del self.find(documents, "ConfigMap", "flatgov-common")["data"]["AUTH_OIDC_ISSUER"]
        failures = self.failures_with(documents)
        self.assertTrue(any("blocks AUTH_OIDC_ISSUER is ''" in f for f in failures), failures)

    def test_a_gateway_with_other_provider_settings_than_the_services_fails(self):
        documents = copy.deepcopy(self.original)
        self.find(documents, "ConfigMap", "flatgov-gateway")["data"]["AUTH_OIDC_ROLES_CLAIM"] = "roles"
        failures = self.failures_with(documents)
        self.assertTrue(any("AUTH_OIDC_ROLES_CLAIM differ from flatgov-common's" in f for f in failures), failures)

    def test_production_without_the_command_centres_login_fails(self):
        documents = copy.deepcopy(self.original)
        del self.find(documents, "ConfigMap", "flatgov-gateway")["data"]["COMMAND_OIDC_CLIENT_ID"]
        failures = self.failures_with(documents)
        self.assertTrue(any("production logs people in through the provider" in f for f in failures), failures)

    def test_a_gateway_kept_from_the_provider_fails(self):
        documents = copy.deepcopy(self.original)
        policy = next(d for d in documents
                      if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "flatgov-oidc-provider")
        policy["spec"]["podSelector"]["matchExpressions"] = [
            {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["flatgov-gateway"]}
        ]
        failures = self.failures_with(documents)
        self.assertTrue(any("gateway sets AUTH_OIDC_ISSUER but no NetworkPolicy lets it reach TCP 443" in f
                            for f in failures), failures)

    def test_an_oidc_provider_out_of_network_reach_fails(self):
        documents = [d for d in copy.deepcopy(self.original)
                     if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "flatgov-oidc-provider")]
        failures = self.failures_with(documents)
        self.assertTrue(any("sets AUTH_OIDC_ISSUER but no NetworkPolicy lets it reach TCP 443" in f for f in failures),
                        failures)

    def test_nats_without_tls_or_users_fails(self):
        documents = copy.deepcopy(self.original)
        config = next(d for d in documents if d["kind"] == "ConfigMap" and "nats.conf" in (d.get("data") or {}))
        text = config["data"]["nats.conf"]
        text = text.replace("\ntls {", "\nno_tls {").replace("include ../nats-accounts/accounts.conf", "")
        config["data"]["nats.conf"] = text
        failures = self.failures_with(documents)
        self.assertTrue(any("no top-level tls block" in f for f in failures), failures)
        self.assertTrue(any("every client would be anonymous" in f for f in failures), failures)

    def test_nats_routes_without_verified_tls_fail(self):
        documents = copy.deepcopy(self.original)
        config = next(d for d in documents if d["kind"] == "ConfigMap" and "nats.conf" in (d.get("data") or {}))
        config["data"]["nats.conf"] = config["data"]["nats.conf"].replace("verify: true", "verify: false")
        failures = self.failures_with(documents)
        self.assertTrue(any("cluster block has no tls block with `verify: true`" in f for f in failures), failures)

    def test_a_certificate_without_its_issuer_fails(self):
        documents = [d for d in copy.deepcopy(self.original)
                     if not (d["kind"] == "Issuer" and d["metadata"]["name"] == "flatgov-ca")]
        failures = self.failures_with(documents)
        self.assertTrue(any("Certificate flatgov-cases-tls names issuer" in f for f in failures), failures)

    def test_nats_without_fsync_on_every_write_fails(self):
        documents = copy.deepcopy(self.original)
        config = next(d for d in documents if d["kind"] == "ConfigMap" and "nats.conf" in (d.get("data") or {}))
        config["data"]["nats.conf"] = config["data"]["nats.conf"].replace("sync_interval: always", "sync_interval: 2m")
        failures = self.failures_with(documents)
        self.assertTrue(any("nats.conf lacks `sync_interval: always`" in f for f in failures), failures)

    # Disaster recovery: synchronous standbys, WAL archive, base backups.

    def cluster(self, documents, name):
        return next(d for d in documents if d["kind"] == "Cluster" and d["metadata"]["name"] == name)

    def test_a_cluster_without_synchronous_replication_fails(self):
        documents = copy.deepcopy(self.original)
        del self.cluster(documents, "flatgov-cases-db")["spec"]["postgresql"]["synchronous"]
        failures = self.failures_with(documents)
        self.assertTrue(any("Cluster flatgov-cases-db does not replicate synchronously" in f for f in failures),
                        failures)

    def test_a_synchronous_quorum_as_large_as_the_cluster_fails(self):
        documents = copy.deepcopy(self.original)
        self.cluster(documents, "flatgov-duties-db")["spec"]["postgresql"]["synchronous"]["number"] = 3
        failures = self.failures_with(documents)
        self.assertTrue(any("Cluster flatgov-duties-db does not replicate synchronously" in f
                            and "with 3 instances" in f for f in failures), failures)

    def test_synchronous_replication_that_gives_way_when_standbys_are_down_fails(self):
        documents = copy.deepcopy(self.original)
        synchronous = self.cluster(documents, "flatgov-blocks-db")["spec"]["postgresql"]["synchronous"]
        synchronous["dataDurability"] = "preferred"
        failures = self.failures_with(documents)
        self.assertTrue(any("Cluster flatgov-blocks-db does not replicate synchronously" in f for f in failures),
                        failures)

    def test_a_cluster_without_wal_archiving_fails(self):
        documents = copy.deepcopy(self.original)
        del self.cluster(documents, "flatgov-federation-db")["spec"]["backup"]["barmanObjectStore"]
        failures = self.failures_with(documents)
        self.assertTrue(any("Cluster flatgov-federation-db does not archive its WAL to an object store" in f
                            for f in failures), failures)

    def test_a_cluster_without_a_retention_policy_fails(self):
        documents = copy.deepcopy(self.original)
        del self.cluster(documents, "flatgov-errands-db")["spec"]["backup"]["retentionPolicy"]
        failures = self.failures_with(documents)
        self.assertTrue(any("Cluster flatgov-errands-db does not archive" in f and "retentionPolicy unset" in f
                            for f in failures), failures)

    def test_a_cluster_without_a_scheduled_backup_fails(self):
        documents = [d for d in copy.deepcopy(self.original)
                     if not (d["kind"] == "ScheduledBackup" and d["spec"]["cluster"]["name"] == "flatgov-gateway-db")]
        failures = self.failures_with(documents)
        self.assertTrue(any("no ScheduledBackup takes base backups of Cluster flatgov-gateway-db" in f
                            for f in failures), failures)

    def test_a_suspended_scheduled_backup_fails(self):
        documents = copy.deepcopy(self.original)
        schedule = next(d for d in documents
                        if d["kind"] == "ScheduledBackup" and d["spec"]["cluster"]["name"] == "flatgov-notices-db")
        schedule["spec"]["suspend"] = True
        failures = self.failures_with(documents)
        self.assertTrue(any("no ScheduledBackup takes base backups of Cluster flatgov-notices-db" in f
                            for f in failures), failures)

    def test_two_clusters_archiving_into_one_folder_fail(self):
        documents = copy.deepcopy(self.original)
        mediation = self.cluster(documents, "flatgov-mediation-db")["spec"]["backup"]["barmanObjectStore"]
        errands = self.cluster(documents, "flatgov-errands-db")["spec"]["backup"]["barmanObjectStore"]
        errands["destinationPath"] = mediation["destinationPath"]
        errands["serverName"] = "flatgov-mediation-db"
        failures = self.failures_with(documents)
        self.assertTrue(any("database clusters share an archive folder" in f and "flatgov-errands-db" in f
                            for f in failures), failures)


class CloudNativePGSchemas(unittest.TestCase):
    """The JSON schemas scripts/check-deploy validates the CloudNativePG
    resources against (kubernetes-validate has none for them)."""

    @classmethod
    def setUpClass(cls):
        try:
            import jsonschema
        except ModuleNotFoundError:
            raise unittest.SkipTest("jsonschema is not installed (scripts/check-deploy's virtualenv has it)")
        cls.documents = rendered_production()
        cls.validators = {}
        for (api_version, kind), file_name in checker.CUSTOM_RESOURCE_SCHEMAS.items():
            if api_version.startswith("postgresql.cnpg.io/"):
                schema = json.loads((REPO / "deploy/k8s/schemas" / file_name).read_text())
                jsonschema.Draft202012Validator.check_schema(schema)
                cls.validators[kind] = jsonschema.Draft202012Validator(schema)

    def errors(self, document) -> list[str]:
        return [error.message for error in self.validators[document["kind"]].iter_errors(document)]

    def first(self, kind):
        return copy.deepcopy(next(d for d in self.documents if d["kind"] == kind))

    def test_every_cluster_and_scheduled_backup_of_the_overlay_matches(self):
        checked = [d for d in self.documents if d["kind"] in ("Cluster", "ScheduledBackup")]
        self.assertEqual(sorted({d["kind"] for d in checked}), ["Cluster", "ScheduledBackup"])
        for document in checked:
            self.assertEqual(self.errors(document), [], document["metadata"]["name"])

    def test_a_misspelt_synchronous_field_fails(self):
        cluster = self.first("Cluster")
        synchronous = cluster["spec"]["postgresql"]["synchronous"]
        synchronous["dataDurabilty"] = synchronous.pop("dataDurability")
        self.assertTrue(any("dataDurabilty" in error for error in self.errors(cluster)))

    def test_an_unknown_compression_fails(self):
        cluster = self.first("Cluster")
        cluster["spec"]["backup"]["barmanObjectStore"]["wal"]["compression"] = "gz"
        self.assertTrue(self.errors(cluster))

    def test_a_malformed_retention_policy_fails(self):
        cluster = self.first("Cluster")
        cluster["spec"]["backup"]["retentionPolicy"] = "30 days"
        self.assertTrue(self.errors(cluster))

    def test_the_folder_a_restored_cluster_archives_to_passes(self):
        cluster = self.first("Cluster")
        cluster["spec"]["backup"]["barmanObjectStore"]["serverName"] = "flatgov-blocks-db-2"
        self.assertEqual(self.errors(cluster), [])

    def test_a_five_field_kubernetes_schedule_fails(self):
        schedule = self.first("ScheduledBackup")
        schedule["spec"]["schedule"] = "0 2 * * *"
        self.assertTrue(any("does not match" in error for error in self.errors(schedule)))

    def test_an_unknown_owner_reference_fails(self):
        schedule = self.first("ScheduledBackup")
        schedule["spec"]["backupOwnerReference"] = "owner"
        self.assertTrue(self.errors(schedule))


class RolloutListsTheSecretsThePodsUse(unittest.TestCase):
    """deploy/k8s/rollout --list-secrets, run with a stand-in kubectl that
    prints a fixed rendering, so its awk sees every shape it must handle."""

    def list_secrets(self, rendered: str) -> list[str]:
        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory)
        (directory / "kustomization.yaml").write_text("resources: []\n")
        (directory / "rendered.yaml").write_text(textwrap.dedent(rendered))
        stand_in = directory / "kubectl"
        stand_in.write_text(f"#!/bin/sh\ncat '{directory / 'rendered.yaml'}'\n")
        stand_in.chmod(0o755)
        result = subprocess.run(
            [str(REPO / "deploy/k8s/rollout"), "--list-secrets", str(directory)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "KUBECTL": str(stand_in)},
        )
        return result.stdout.splitlines()

    def test_volumes_variables_and_env_from_are_listed_whatever_the_key_order(self):
        listed = self.list_secrets(
            """
            kind: Deployment
            spec:
              template:
                spec:
                  containers:
                  - env:
                    - name: DATABASE_URL
                      valueFrom:
                        secretKeyRef:
                          name: db-app
                          key: uri
                    envFrom:
                    - secretRef:
                        name: whole-secret
                  volumes:
                  - name: identity
                    secret:
                      secretName: identity-key
                      items:
                      - key: federation-identity-key
                        path: federation-identity-key
                  - name: without-items
                    secret:
                      secretName: all-keys
                  - name: bundle
                    projected:
                      sources:
                      - secret:
                          items:
                          - key: ca.crt
                            path: ca.crt
                          name: projected-secret
                      - configMap:
                          name: not-a-secret
            ---
            kind: Job
            spec:
              template:
                spec:
                  volumes:
                  - secret:
                      defaultMode: 288
                      items:
                      - key: public-key.pem
                        path: public-key.pem
                      secretName: public-key
                    name: public
            """
        )
        self.assertEqual(
            listed,
            sorted(
                [
                    "all-keys",
                    "db-app uri",
                    "identity-key federation-identity-key",
                    "projected-secret ca.crt",
                    "public-key public-key.pem",
                    "whole-secret",
                ]
            ),
        )

    def test_the_real_overlays_list_what_their_pods_use(self):
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise unittest.SkipTest("no kubectl on PATH")
        for overlay in ("dev", "production"):
            directory = REPO / "deploy/k8s/overlays" / overlay
            rendered = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True)
            documents = [document for document in yaml.safe_load_all(rendered.stdout) if document]
            listed = subprocess.run(
                [str(REPO / "deploy/k8s/rollout"), "--list-secrets", str(directory)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "KUBECTL": kubectl},
            ).stdout
            report = quiet_report()
            run_silently(checker.check_rollout_secrets, report, overlay, documents, listed)
            self.assertEqual(report.failures, [], overlay)
            self.assertIn("flatgov-federation-identity-key federation-identity-key", listed.splitlines())


if __name__ == "__main__":
    unittest.main()
