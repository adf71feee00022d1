"""Tests of check_deploy: the checker must find what it claims to find.

Run by scripts/check-deploy before the real checks. The Kubernetes tests take
the overlay that script rendered (FLATGOV_RENDERED_PRODUCTION); run alone,
they render it themselves with the kubectl on PATH.
"""

from __future__ import annotations

import copy
import io
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

    def test_a_nats_image_other_than_the_validated_release_fails(self):
        document = copy.deepcopy(self.original)
        document["services"]["nats"]["image"] = "nats:2.10.0-alpine"
        failures = self.failures_with(document)
        self.assertTrue(any("differs from nats-server 2.15.1" in f for f in failures), failures)


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
            "NATS_URL": "required",
            "AUTH_PUBLIC_KEY_FILE": "required",
            "GRPC_LISTEN_ADDR": "optional",
            "NATS_SUBJECT_PREFIX": "optional",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "maybe",
            "AUTH_SIGNING_KEY_FILE": "required",
        }
        extra = {"cases": {"BLOCKS_URL": "required", "DUTIES_URL": "required"}, "enforcement": {"DUTIES_URL": "required"}}
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

    def test_a_probe_on_the_wrong_port_fails(self):
        documents = copy.deepcopy(self.original)
        container = self.find(documents, "Deployment", "flatgov-duties")["spec"]["template"]["spec"]["containers"][0]
        container["livenessProbe"]["grpc"]["port"] = 50051
        failures = self.failures_with(documents)
        self.assertTrue(any("duties livenessProbe not a gRPC probe on port 50052" in f for f in failures), failures)

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
        self.assertTrue(any("Job flatgov-blocks-migrate" in f and "NATS_URL" in f for f in failures), failures)

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

    def test_nats_without_fsync_on_every_write_fails(self):
        documents = copy.deepcopy(self.original)
        config = next(d for d in documents if d["kind"] == "ConfigMap" and "nats.conf" in (d.get("data") or {}))
        config["data"]["nats.conf"] = config["data"]["nats.conf"].replace("sync_interval: always", "sync_interval: 2m")
        failures = self.failures_with(documents)
        self.assertTrue(any("nats.conf lacks `sync_interval: always`" in f for f in failures), failures)


if __name__ == "__main__":
    unittest.main()
