#!/usr/bin/env python3
"""Cross-checks flatgov's deployment material against itself and the code.

scripts/check-deploy runs the tool validators (compose schema, kustomize,
kubernetes-validate, nats-server -t, promtool) and then this module, which
checks what no generic validator knows:

* every service crate under services/ appears in docker-compose.yml and in
  every rendered Kustomize overlay, with the gRPC and metrics ports of
  deploy/services.tsv (and of the crate's ServiceIdentity, once it exists);
* every environment variable the code reads (the string literals passed to
  `.required("NAME"`, `.optional("NAME"` and `.maybe("NAME"` in the service's
  crate and in the workspace crates it depends on) is set in compose and in
  Kubernetes, or is one that may deliberately be left to its default;
* health checks, probes, migrations, NetworkPolicies, security settings and
  replica counts say what docs/deploy.md promises.

It prints one line per check and exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons get tomli from the venv
    import tomli as tomllib  # type: ignore[no-redef]


# Variables the code reads that a deployment may leave unset, each with the
# reason. Only optional variables qualify: a required one must always be set.
MAY_BE_LEFT_TO_DEFAULT: dict[str, str] = {
    "NATS_SUBJECT_PREFIX": "test isolation only; a deployment must never set it",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "trace export is opt-in; unset means no export",
}

# Variables the chassis reads only in services that call other services (to
# mint their service tokens): expected exactly where a service has a
# <SVC>_URL variable, whatever the shared crate's code says.
CALLER_ONLY_VARIABLES: dict[str, str] = {
    "AUTH_SIGNING_KEY_FILE": "read by flatgov-auth's ServiceTokens, which only callers build",
}

# Variables that must never appear in a deployment.
MUST_NOT_BE_SET: dict[str, str] = {
    "NATS_SUBJECT_PREFIX": "is for test isolation only and would hide the service's events from every other service",
}

# Custom resources kubernetes-validate has no schema for, and the JSON schema
# (under deploy/k8s/schemas/) they are validated against instead.
CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], str] = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.schema.json",
}

CALL_VARIABLE = re.compile(r"^([A-Z]+)_URL$")


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass
class Report:
    """Collects what was checked; failures make the run exit non-zero."""

    passed: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quiet: bool = False

    def ok(self, message: str) -> None:
        self.passed += 1
        if not self.quiet:
            print(f"ok    {message}")

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL  {message}")

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"warn  {message}")

    def check(self, condition: bool, message: str, failure: str | None = None) -> bool:
        if condition:
            self.ok(message)
        else:
            self.fail(failure or message)
        return condition


# ---------------------------------------------------------------------------
# The service table
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    database: str

    @property
    def binary(self) -> str:
        return f"flatgov-{self.name}"


def load_service_table(path: Path) -> dict[str, ServiceSpec]:
    """Reads deploy/services.tsv: service, grpc_port, metrics_port, database."""
    services: dict[str, ServiceSpec] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        columns = stripped.split()
        if len(columns) != 4:
            raise ValueError(f"{path}:{number}: expected 4 columns, found {len(columns)}")
        name, grpc, metrics, database = columns
        if not (grpc.isdigit() and metrics.isdigit()):
            raise ValueError(f"{path}:{number}: ports must be numbers")
        services[name] = ServiceSpec(name, int(grpc), int(metrics), database)
    if not services:
        raise ValueError(f"{path}: no services listed")
    return services


# ---------------------------------------------------------------------------
# Environment variables read by the code
# ---------------------------------------------------------------------------

# `.required("NAME"`, `.optional("NAME"`, `.maybe("NAME"`, with an optional
# turbofish (`.required::<String>(`) and line breaks anywhere rustfmt puts them.
# Upper-case names only: environment variables are upper case, and other
# `.required("field"` APIs (the duties import reads row fields) are not.
ENV_CALL = re.compile(
    r"\.\s*(required|optional|maybe)\s*(?:::\s*<[^()]*?>\s*)?\(\s*\"([A-Z][A-Z0-9_]*)\""
)
TEST_MODULE = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")


RAW_STRING_START = re.compile(r'r(#*)"')
CHAR_LITERAL = re.compile(r"'(?:\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'")


def strip_comments(source: str) -> str:
    """Removes // and /* */ comments, keeping string and char literals intact."""
    out: list[str] = []
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        pair = source[index : index + 2]
        if pair == "//":
            end = source.find("\n", index)
            index = length if end == -1 else end
            continue
        if pair == "/*":
            depth = 1
            index += 2
            while index < length and depth:
                if source.startswith("/*", index):
                    depth += 1
                    index += 2
                elif source.startswith("*/", index):
                    depth -= 1
                    index += 2
                else:
                    index += 1
            out.append(" ")
            continue
        if char == '"' or (char == "r" and RAW_STRING_START.match(source, index)):
            end = _string_end(source, index)
            out.append(source[index:end])
            index = end
            continue
        if char == "'":
            match = CHAR_LITERAL.match(source, index)
            if match:
                out.append(match.group(0))
                index += len(match.group(0))
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _string_end(source: str, start: int) -> int:
    """Index just past the string literal (plain or raw) starting at `start`."""
    raw = RAW_STRING_START.match(source, start)
    if raw:
        closing = '"' + raw.group(1)
        end = source.find(closing, raw.end())
        return len(source) if end == -1 else end + len(closing)
    index = start + 1
    while index < len(source):
        if source[index] == "\\":
            index += 2
            continue
        if source[index] == '"':
            return index + 1
        index += 1
    return len(source)


def strip_test_modules(source: str) -> str:
    """Removes `#[cfg(test)] mod name { ... }` blocks (comments already gone)."""
    while True:
        match = TEST_MODULE.search(source)
        if not match:
            return source
        depth = 1
        index = match.end()
        while index < len(source) and depth:
            char = source[index]
            if char == '"' or (char == "r" and RAW_STRING_START.match(source, index)):
                index = _string_end(source, index)
                continue
            if char == "'":
                literal = CHAR_LITERAL.match(source, index)
                if literal:
                    index += len(literal.group(0))
                    continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            index += 1
        source = source[: match.start()] + source[index:]


def env_vars_in_rust(source: str) -> dict[str, str]:
    """Variable name -> how it is read (required, optional or maybe).

    A variable read both ways counts as required."""
    cleaned = strip_test_modules(strip_comments(source))
    found: dict[str, str] = {}
    for how, name in ENV_CALL.findall(cleaned):
        if how == "required" or name not in found:
            found[name] = how
    return found


@dataclass
class CrateInfo:
    name: str
    directory: Path
    dependencies: list[str]


def workspace_crates(repo: Path) -> dict[str, CrateInfo]:
    """Every workspace member and path dependency, by package name."""
    root = tomllib.loads((repo / "Cargo.toml").read_text())
    workspace = root.get("workspace", {})
    declared_paths: dict[str, Path] = {}
    for name, spec in workspace.get("dependencies", {}).items():
        if isinstance(spec, dict) and "path" in spec:
            declared_paths[name] = (repo / spec["path"]).resolve()
    directories = {(repo / member).resolve() for member in workspace.get("members", [])}
    directories |= set(declared_paths.values())

    crates: dict[str, CrateInfo] = {}
    for directory in sorted(directories):
        manifest_path = directory / "Cargo.toml"
        if not manifest_path.exists():
            continue
        manifest = tomllib.loads(manifest_path.read_text())
        package_name = manifest.get("package", {}).get("name", directory.name)
        dependencies: list[str] = []
        tables = [manifest.get("dependencies", {})]
        for target in manifest.get("target", {}).values():
            tables.append(target.get("dependencies", {}))
        for table in tables:
            for key, spec in table.items():
                if isinstance(spec, dict):
                    dependency = spec.get("package", key)
                    if spec.get("workspace") and dependency in declared_paths:
                        dependencies.append(dependency)
                    elif "path" in spec:
                        path = (directory / spec["path"]).resolve()
                        dependencies.append(_package_name_at(path) or dependency)
        crates[package_name] = CrateInfo(package_name, directory, dependencies)
    return crates


def _package_name_at(directory: Path) -> str | None:
    manifest = directory / "Cargo.toml"
    if not manifest.exists():
        return None
    return tomllib.loads(manifest.read_text()).get("package", {}).get("name")


def crate_closure(crates: dict[str, CrateInfo], start: str) -> list[CrateInfo]:
    """The crate and every workspace crate it depends on (not dev-dependencies)."""
    seen: dict[str, CrateInfo] = {}
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or name not in crates:
            continue
        seen[name] = crates[name]
        pending.extend(crates[name].dependencies)
    return list(seen.values())


def production_sources(crate: CrateInfo) -> Iterable[Path]:
    """The crate's src/ files, without test-only files (tests.rs, src/**/tests/)."""
    source_root = crate.directory / "src"
    if not source_root.exists():
        return []
    return sorted(
        path
        for path in source_root.rglob("*.rs")
        if path.name != "tests.rs" and "tests" not in path.relative_to(source_root).parts[:-1]
    )


@dataclass
class CodeFacts:
    """What the code says about one service."""

    has_binary: bool
    variables: dict[str, str]
    variable_sources: dict[str, str]
    grpc_port: int | None
    metrics_port: int | None
    crates: list[str]


def code_facts(repo: Path, service: ServiceSpec, crates: dict[str, CrateInfo]) -> CodeFacts:
    package = f"flatgov-{service.name}"
    has_binary = (repo / "services" / service.name / "src" / "main.rs").exists()
    variables: dict[str, str] = {}
    sources: dict[str, str] = {}
    grpc_port = metrics_port = None
    closure = crate_closure(crates, package)
    for crate in closure:
        for path in production_sources(crate):
            text = path.read_text(errors="replace")
            for name, how in env_vars_in_rust(text).items():
                if variables.get(name) != "required":
                    variables[name] = how
                sources.setdefault(name, str(path.relative_to(repo)))
            if crate.name == package:
                cleaned = strip_comments(text)
                grpc = re.search(r"\bgrpc_port\s*:\s*(\d+)", cleaned)
                metrics = re.search(r"\bmetrics_port\s*:\s*(\d+)", cleaned)
                grpc_port = int(grpc.group(1)) if grpc else grpc_port
                metrics_port = int(metrics.group(1)) if metrics else metrics_port
    return CodeFacts(has_binary, variables, sources, grpc_port, metrics_port, [c.name for c in closure])


# ---------------------------------------------------------------------------
# Compose
# ---------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: Any, environment: dict[str, str]) -> Any:
    """Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $$."""
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3) or ""
        current = environment.get(name)
        if operator == ":-":
            return current if current else argument
        if operator == "-":
            return current if current is not None else argument
        if operator in (":?", "?"):
            if current is None or (operator == ":?" and not current):
                raise ValueError(f"compose variable {name} is required: {argument}")
            return current
        return current or ""

    return INTERPOLATION.sub(substitute, value)


def compose_environment(service: dict[str, Any], environment: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = {}
        for item in raw:
            key, _, value = str(item).partition("=")
            pairs[key] = value
        raw = pairs
    return {key: "" if value is None else str(interpolate(value, environment)) for key, value in raw.items()}


def port_of(address: str) -> int | None:
    match = re.search(r":(\d+)$", address.strip())
    return int(match.group(1)) if match else None


def variables_expected(facts: CodeFacts, calls: set[str]) -> dict[str, str]:
    """The variables this service reads: its code's, without the caller-only
    ones when it calls no other service."""
    return {
        name: how
        for name, how in facts.variables.items()
        if calls or name not in CALLER_ONLY_VARIABLES
    }


def check_variables(
    report: Report,
    where: str,
    service: ServiceSpec,
    facts: CodeFacts,
    configured: dict[str, str],
    calls: set[str],
) -> None:
    """The variables the code reads against those a deployment sets."""
    for name, reason in MUST_NOT_BE_SET.items():
        report.check(
            name not in configured,
            f"{where}: {service.name} leaves {name} unset",
            f"{where}: {service.name} sets {name}, which {reason}",
        )
    if not facts.variables:
        message = (
            f"{where}: found no environment variable read by {service.binary} "
            f"(looked for .required/.optional/.maybe(\"NAME\" in crates {', '.join(facts.crates) or 'none'})"
        )
        if facts.has_binary:
            report.fail(message + "; services/" + service.name + "/src/main.rs exists, so this is an error")
        else:
            report.warn(message + "; not an error until services/" + service.name + "/src/main.rs exists")
        return
    expected = variables_expected(facts, calls)
    missing = []
    for name, how in sorted(expected.items()):
        if name in configured:
            continue
        if how != "required" and name in MAY_BE_LEFT_TO_DEFAULT:
            continue
        missing.append(f"{name} ({how}, read in {facts.variable_sources.get(name, '?')})")
    report.check(
        not missing,
        f"{where}: {service.name} sets all {len(expected)} variables its code reads "
        f"(or leaves an allowed one to its default)",
        f"{where}: {service.name} does not set {', '.join(missing)}",
    )
    for name, how in facts.variables.items():
        if how == "required" and name in MAY_BE_LEFT_TO_DEFAULT:
            report.fail(f"allow-list: {name} is required by the code and cannot be left to a default")
    if facts.has_binary:
        unread = sorted(set(configured) - set(expected))
        if unread:
            report.warn(f"{where}: {service.name} sets variables no code of it reads: {', '.join(unread)}")


def called_services(
    service: ServiceSpec, services: dict[str, ServiceSpec], facts: CodeFacts, configured: dict[str, str]
) -> set[str]:
    """Services this one calls: its <SVC>_URL variables (code first, config as fallback)."""
    names = set(facts.variables) if facts.variables else set(configured)
    called = set()
    for name in names:
        match = CALL_VARIABLE.match(name)
        if match and match.group(1).lower() in services and match.group(1).lower() != service.name:
            called.add(match.group(1).lower())
    return called


def check_compose(
    report: Report,
    repo: Path,
    compose_path: Path,
    services: dict[str, ServiceSpec],
    facts: dict[str, CodeFacts],
    nats_version: str | None,
) -> None:
    document = yaml.safe_load(compose_path.read_text())
    compose_services: dict[str, Any] = document.get("services", {})
    declared_volumes = set((document.get("volumes") or {}).keys())
    environment: dict[str, str] = {}

    for name, definition in compose_services.items():
        for dependency in _depends_on(definition):
            report.check(
                dependency in compose_services,
                f"compose: {name} depends on {dependency}, which exists",
                f"compose: {name} depends on {dependency}, which is not a service",
            )
        for volume in definition.get("volumes") or []:
            source = (volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")) or ""
            if source.startswith((".", "/")):
                report.check(
                    (compose_path.parent / source).exists(),
                    f"compose: {name} mounts {source}, which exists",
                    f"compose: {name} mounts {source}, which does not exist",
                )
            elif source:
                report.check(
                    source in declared_volumes,
                    f"compose: {name} uses declared volume {source}",
                    f"compose: {name} uses volume {source}, which is not declared under volumes:",
                )

    postgres_environment = compose_environment(compose_services.get("postgres", {}), environment)
    prometheus_targets = _prometheus_targets(compose_path.parent / "deploy/compose/prometheus.yml")

    for service in services.values():
        where = "compose"
        definition = compose_services.get(service.name)
        if not report.check(
            definition is not None,
            f"{where}: service {service.name} is defined",
            f"{where}: no service named {service.name} (every crate under services/ must run)",
        ):
            continue
        configured = compose_environment(definition, environment)
        command = definition.get("command")
        report.check(
            command in ([service.binary], service.binary),
            f"{where}: {service.name} runs {service.binary}",
            f"{where}: {service.name} command is {command!r}, expected [{service.binary!r}]",
        )
        _check_ports_in_env(report, where, service, configured)
        published = [_container_port(port) for port in definition.get("ports") or []]
        report.check(
            all(port == service.grpc_port for port in published),
            f"{where}: {service.name} publishes only its gRPC port {service.grpc_port}",
            f"{where}: {service.name} publishes container ports {published}, expected {service.grpc_port}",
        )
        healthcheck = (definition.get("healthcheck") or {}).get("test")
        report.check(
            healthcheck == ["CMD", service.binary, "health-check"],
            f"{where}: {service.name} health check runs `{service.binary} health-check`",
            f"{where}: {service.name} health check is {healthcheck!r}",
        )
        depends = definition.get("depends_on") or {}
        conditions = {key: (value or {}).get("condition") for key, value in depends.items()} if isinstance(depends, dict) else {}
        report.check(
            conditions.get("postgres") == "service_healthy"
            and conditions.get("nats") == "service_healthy"
            and conditions.get("keys") == "service_completed_successfully",
            f"{where}: {service.name} waits for healthy postgres and nats and for the keys one-shot",
            f"{where}: {service.name} depends_on conditions are {conditions}",
        )
        report.check(
            definition.get("restart") in ("always", "unless-stopped", "on-failure"),
            f"{where}: {service.name} restarts ({definition.get('restart')})",
            f"{where}: {service.name} has no restart policy",
        )
        report.check(
            configured.get("LOG_FORMAT") == "json",
            f"{where}: {service.name} logs JSON",
            f"{where}: {service.name} LOG_FORMAT is {configured.get('LOG_FORMAT')!r}, expected json",
        )
        _check_compose_database(report, service, configured, postgres_environment)
        report.check(
            f"{service.name}:{service.metrics_port}" in prometheus_targets,
            f"{where}: prometheus scrapes {service.name}:{service.metrics_port}",
            f"{where}: deploy/compose/prometheus.yml has no target {service.name}:{service.metrics_port}",
        )
        calls = called_services(service, services, facts[service.name], configured)
        check_variables(report, where, service, facts[service.name], configured, calls)
        for target in sorted(calls):
            variable = f"{target.upper()}_URL"
            expected = f"http://{target}:{services[target].grpc_port}"
            report.check(
                configured.get(variable) == expected,
                f"{where}: {service.name} calls {target} at {expected}",
                f"{where}: {service.name} {variable} is {configured.get(variable)!r}, expected {expected}",
            )

    demo = compose_services.get("demo", {})
    demo_waits = set((demo.get("depends_on") or {}).keys()) if isinstance(demo.get("depends_on"), dict) else set()
    report.check(
        "demo" in (demo.get("profiles") or []) and demo_waits >= set(services),
        "compose: the demo one-shot (profile demo) waits for every service",
        f"compose: the demo one-shot must be in profile demo and wait for {sorted(set(services) - demo_waits)}",
    )
    demo_environment = compose_environment(demo, environment)
    for service in services.values():
        variable = f"{service.name.upper()}_URL"
        expected = f"http://{service.name}:{service.grpc_port}"
        report.check(
            demo_environment.get(variable) == expected,
            f"compose: demo reaches {service.name} at {expected}",
            f"compose: demo {variable} is {demo_environment.get(variable)!r}, expected {expected}",
        )
    for name in ("otel-collector", "jaeger", "prometheus"):
        report.check(
            "observability" in (compose_services.get(name, {}).get("profiles") or []),
            f"compose: {name} runs in the observability profile",
            f"compose: {name} missing or not in the observability profile",
        )
    nats_image = compose_services.get("nats", {}).get("image", "")
    _check_nats_image(report, "compose", nats_image, nats_version)
    nats_config = (repo / "deploy/compose/nats.conf").read_text()
    report.check(
        re.search(r"^\s*sync_interval\s*:\s*always\s*$", nats_config, re.M) is not None,
        "compose: NATS JetStream syncs every write (sync_interval: always)",
        "compose: deploy/compose/nats.conf lacks `sync_interval: always`",
    )
    check_otel_collector_config(report, repo / "deploy/compose/otel-collector.yaml")


def _depends_on(definition: dict[str, Any]) -> list[str]:
    depends = definition.get("depends_on") or []
    return list(depends.keys()) if isinstance(depends, dict) else list(depends)


def _container_port(port: Any) -> int | None:
    if isinstance(port, dict):
        return int(port.get("target", 0))
    text = str(port).split("/")[0]
    return int(text.rsplit(":", 1)[-1]) if text.rsplit(":", 1)[-1].isdigit() else None


def _check_ports_in_env(report: Report, where: str, service: ServiceSpec, configured: dict[str, str]) -> None:
    grpc = port_of(configured.get("GRPC_LISTEN_ADDR", ""))
    metrics = port_of(configured.get("METRICS_LISTEN_ADDR", ""))
    report.check(
        grpc == service.grpc_port,
        f"{where}: {service.name} gRPC listens on {service.grpc_port}",
        f"{where}: {service.name} GRPC_LISTEN_ADDR port is {grpc}, expected {service.grpc_port}",
    )
    report.check(
        metrics == service.metrics_port,
        f"{where}: {service.name} metrics listen on {service.metrics_port}",
        f"{where}: {service.name} METRICS_LISTEN_ADDR port is {metrics}, expected {service.metrics_port}",
    )


def _check_compose_database(
    report: Report, service: ServiceSpec, configured: dict[str, str], postgres_environment: dict[str, str]
) -> None:
    url = configured.get("DATABASE_URL", "")
    match = re.match(r"^postgres(?:ql)?://([^:@/]+):([^@/]*)@([^:/]+):(\d+)/([^?]+)", url)
    if not report.check(
        match is not None,
        f"compose: {service.name} DATABASE_URL is a postgres:// URL with user and password",
        f"compose: {service.name} DATABASE_URL {url!r} is not postgres://user:password@host:port/database",
    ):
        return
    assert match is not None
    user, password, host, _port, database = match.groups()
    report.check(
        database == service.database and user == service.database and host == "postgres",
        f"compose: {service.name} uses its own database {service.database} as role {service.database}",
        f"compose: {service.name} DATABASE_URL names role {user} and database {database} on {host}",
    )
    password_variable = f"FLATGOV_{service.name.upper()}_DB_PASSWORD"
    report.check(
        postgres_environment.get(password_variable) == password,
        f"compose: the postgres init script creates {user} with the password {service.name} uses",
        f"compose: postgres {password_variable} differs from the password in {service.name}'s DATABASE_URL",
    )


def _prometheus_targets(path: Path) -> set[str]:
    if not path.exists():
        return set()
    config = yaml.safe_load(path.read_text()) or {}
    targets = set()
    for job in config.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            targets.update(static.get("targets") or [])
    return targets


def _check_nats_image(report: Report, where: str, image: str, nats_version: str | None) -> None:
    match = re.match(r"^nats:(\d+)\.(\d+)\.(\d+)(-alpine)?", image)
    report.check(
        match is not None,
        f"{where}: NATS image {image} is pinned to a release",
        f"{where}: NATS image {image!r} is not pinned as nats:X.Y.Z[-alpine] (the alpine variant has wget for health checks)",
    )
    if match and nats_version:
        report.check(
            ".".join(match.groups()[:3]) == nats_version,
            f"{where}: NATS image {image} is the release the config was validated with ({nats_version})",
            f"{where}: NATS image {image} differs from nats-server {nats_version} that validated the config; "
            "bump NATS_SERVER_VERSION in scripts/check-deploy with it",
        )


def check_otel_collector_config(report: Report, path: Path) -> None:
    config = yaml.safe_load(path.read_text()) or {}
    problems = []
    for pipeline_name, pipeline in ((config.get("service") or {}).get("pipelines") or {}).items():
        for section in ("receivers", "processors", "exporters"):
            defined = set((config.get(section) or {}).keys())
            for component in pipeline.get(section) or []:
                if component not in defined:
                    problems.append(f"pipeline {pipeline_name} uses undefined {section[:-1]} {component}")
    for extension in (config.get("service") or {}).get("extensions") or []:
        if extension not in (config.get("extensions") or {}):
            problems.append(f"service uses undefined extension {extension}")
    report.check(
        not problems and bool((config.get("service") or {}).get("pipelines")),
        "compose: the OpenTelemetry collector pipelines use only defined components",
        f"compose: deploy/compose/otel-collector.yaml: {'; '.join(problems) or 'no pipelines'}",
    )


# ---------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def index_by_kind(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(document["kind"], document["metadata"]["name"]): document for document in documents}


def validate_kubernetes(
    report: Report,
    overlay: str,
    documents: list[dict[str, Any]],
    kubernetes_validate: str,
    schema_directory: Path,
) -> None:
    """Built-in kinds through kubernetes-validate --strict; known custom
    resources against their JSON schema; any other kind is an error."""
    import jsonschema

    builtin = []
    for document in documents:
        key = (document.get("apiVersion", ""), document.get("kind", ""))
        if key in CUSTOM_RESOURCE_SCHEMAS:
            schema = json.loads((schema_directory / CUSTOM_RESOURCE_SCHEMAS[key]).read_text())
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=str)
            name = document["metadata"]["name"]
            report.check(
                not errors,
                f"k8s {overlay}: {key[1]} {name} matches {CUSTOM_RESOURCE_SCHEMAS[key]}",
                f"k8s {overlay}: {key[1]} {name}: "
                + "; ".join(f"{'.'.join(map(str, error.path)) or '(root)'}: {error.message}" for error in errors),
            )
        else:
            builtin.append(document)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump_all(builtin, handle, sort_keys=False)
        builtin_path = handle.name
    result = subprocess.run(
        [kubernetes_validate, "--strict", "--quiet", builtin_path],
        capture_output=True,
        text=True,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    unknown = [line for line in output.splitlines() if line.startswith("WARN")]
    Path(builtin_path).unlink()
    report.check(
        result.returncode == 0 and not output,
        f"k8s {overlay}: {len(builtin)} resources pass kubernetes-validate --strict",
        f"k8s {overlay}: kubernetes-validate --strict failed"
        + (" (a kind without schema: add it to CUSTOM_RESOURCE_SCHEMAS with a schema)" if unknown else "")
        + ":\n      "
        + output.replace("\n", "\n      "),
    )


def effective_env(
    container: dict[str, Any], index: dict[tuple[str, str], dict[str, Any]]
) -> tuple[dict[str, str], dict[str, dict[str, str]], list[str]]:
    """(values, secret references, problems) of a container's environment."""
    values: dict[str, str] = {}
    secrets: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            config_map = index.get(("ConfigMap", name))
            if config_map is None:
                problems.append(f"envFrom ConfigMap {name} is not in the rendered output")
                continue
            for key, value in (config_map.get("data") or {}).items():
                values[source.get("prefix", "") + key] = str(value)
        else:
            problems.append(f"envFrom {list(source)} cannot be checked offline; use env with secretKeyRef")
    for variable in container.get("env") or []:
        name = variable["name"]
        if "value" in variable:
            values[name] = str(variable["value"])
            secrets.pop(name, None)
        elif "secretKeyRef" in (variable.get("valueFrom") or {}):
            secrets[name] = variable["valueFrom"]["secretKeyRef"]
            values.pop(name, None)
        else:
            values[name] = "(from the pod)"
    return values, secrets, problems


def _labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression.get("values", []):
            return False
        if operator == "NotIn" and value in expression.get("values", []):
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def policies_selecting(documents: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        document
        for document in documents
        if document["kind"] == "NetworkPolicy" and _labels_match(document["spec"].get("podSelector") or {}, labels)
    ]


def _rule_ports(rule: dict[str, Any]) -> set[int]:
    return {int(port["port"]) for port in rule.get("ports") or [] if str(port.get("port", "")).isdigit()}


def egress_targets(policies: list[dict[str, Any]]) -> list[tuple[dict[str, Any] | None, set[int]]]:
    """(peer, ports) for every egress rule; peer None means any destination."""
    targets = []
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            peers = rule.get("to") or [None]
            for peer in peers:
                targets.append((peer, _rule_ports(rule)))
    return targets


def check_pod_security(report: Report, where: str, pod_spec: dict[str, Any], container: dict[str, Any]) -> None:
    pod = pod_spec.get("securityContext") or {}
    own = container.get("securityContext") or {}
    problems = []
    if pod.get("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if pod.get("runAsUser") != 10001 or pod.get("runAsGroup") != 10001:
        problems.append("does not run as uid/gid 10001")
    if (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("seccomp profile is not RuntimeDefault")
    if own.get("readOnlyRootFilesystem") is not True:
        problems.append("root filesystem is writable")
    if own.get("allowPrivilegeEscalation") is not False:
        problems.append("privilege escalation is allowed")
    if (own.get("capabilities") or {}).get("drop") != ["ALL"]:
        problems.append("capabilities are not all dropped")
    if pod_spec.get("automountServiceAccountToken") is not False:
        problems.append("a service account token is mounted")
    resources = container.get("resources") or {}
    if not (resources.get("requests") and resources.get("limits")):
        problems.append("resource requests or limits are missing")
    report.check(
        not problems,
        f"{where}: non-root 10001, read-only root, no capabilities, RuntimeDefault seccomp, no token, requests and limits",
        f"{where}: {'; '.join(problems)}",
    )


def check_kubernetes_overlay(
    report: Report,
    overlay: str,
    documents: list[dict[str, Any]],
    services: dict[str, ServiceSpec],
    facts: dict[str, CodeFacts],
    nats_version: str | None,
    nats_server: str | None,
) -> None:
    index = index_by_kind(documents)
    production = overlay == "production"

    for service in services.values():
        where = f"k8s {overlay}"
        deployment = index.get(("Deployment", service.binary))
        if not report.check(
            deployment is not None,
            f"{where}: Deployment {service.binary} exists",
            f"{where}: no Deployment {service.binary} (every crate under services/ must run)",
        ):
            continue
        assert deployment is not None
        pod_spec = deployment["spec"]["template"]["spec"]
        pod_labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
        containers = pod_spec.get("containers") or []
        container = containers[0] if containers else {}
        report.check(
            container.get("command") == [service.binary],
            f"{where}: {service.name} runs {service.binary}",
            f"{where}: {service.name} command is {container.get('command')!r}",
        )
        ports = {port.get("name"): port.get("containerPort") for port in container.get("ports") or []}
        report.check(
            ports.get("grpc") == service.grpc_port and ports.get("metrics") == service.metrics_port,
            f"{where}: {service.name} container ports grpc {service.grpc_port}, metrics {service.metrics_port}",
            f"{where}: {service.name} container ports are {ports}, expected grpc {service.grpc_port} and metrics {service.metrics_port}",
        )
        probes = {kind: container.get(kind) or {} for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
        bad_probes = [kind for kind, probe in probes.items() if (probe.get("grpc") or {}).get("port") != service.grpc_port]
        report.check(
            not bad_probes,
            f"{where}: {service.name} startup, readiness and liveness are native gRPC probes on {service.grpc_port}",
            f"{where}: {service.name} {', '.join(bad_probes)} not a gRPC probe on port {service.grpc_port}",
        )
        annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
        report.check(
            annotations.get("prometheus.io/scrape") == "true"
            and annotations.get("prometheus.io/port") == str(service.metrics_port),
            f"{where}: {service.name} pods are annotated for scraping on {service.metrics_port}",
            f"{where}: {service.name} prometheus.io annotations are {annotations}",
        )
        check_pod_security(report, f"{where}: {service.name}", pod_spec, container)

        values, secrets, problems = effective_env(container, index)
        for problem in problems:
            report.fail(f"{where}: {service.name}: {problem}")
        configured = {**values, **{name: "(secret)" for name in secrets}}
        _check_ports_in_env(report, where, service, values)
        report.check(
            values.get("DATABASE_MIGRATE_ON_START") == "false",
            f"{where}: {service.name} replicas do not migrate at start (the Job does)",
            f"{where}: {service.name} DATABASE_MIGRATE_ON_START is {values.get('DATABASE_MIGRATE_ON_START')!r}, expected false",
        )
        report.check(
            values.get("LOG_FORMAT") == "json",
            f"{where}: {service.name} logs JSON",
            f"{where}: {service.name} LOG_FORMAT is {values.get('LOG_FORMAT')!r}",
        )
        database_secret = secrets.get("DATABASE_URL")
        report.check(
            database_secret is not None,
            f"{where}: {service.name} reads DATABASE_URL from a Secret",
            f"{where}: {service.name} DATABASE_URL is not a secretKeyRef",
        )
        expected_calls = called_services(service, services, facts[service.name], values)
        check_variables(report, where, service, facts[service.name], configured, expected_calls)

        # Replicas and scaling.
        replicas = deployment["spec"].get("replicas", 1)
        autoscaler = index.get(("HorizontalPodAutoscaler", service.binary))
        # deploy/k8s/rollout applies these after the migration Jobs, by label.
        phases = [
            (document or {}).get("metadata", {}).get("labels", {}).get("flatgov.io/rollout")
            for document in (deployment, autoscaler)
        ]
        report.check(
            phases == ["after-migration", "after-migration"],
            f"{where}: {service.name} Deployment and HPA roll out after the migration (flatgov.io/rollout)",
            f"{where}: {service.name} Deployment/HPA flatgov.io/rollout labels are {phases}, expected after-migration",
        )
        minimum = 2 if production else 1
        report.check(
            replicas >= minimum,
            f"{where}: {service.name} runs {replicas} replicas (at least {minimum})",
            f"{where}: {service.name} runs {replicas} replicas, expected at least {minimum}",
        )
        report.check(
            autoscaler is not None
            and autoscaler["apiVersion"] == "autoscaling/v2"
            and autoscaler["spec"]["scaleTargetRef"]["name"] == service.binary
            and autoscaler["spec"].get("minReplicas", 1) >= minimum,
            f"{where}: {service.name} has an autoscaling/v2 HPA from {minimum} replicas",
            f"{where}: {service.name} HPA missing, not autoscaling/v2, or below {minimum} replicas",
        )
        budget = index.get(("PodDisruptionBudget", service.binary))
        report.check(
            budget is not None and _labels_match(budget["spec"]["selector"], pod_labels),
            f"{where}: {service.name} has a PodDisruptionBudget selecting its pods",
            f"{where}: {service.name} has no PodDisruptionBudget selecting its pods",
        )
        account = index.get(("ServiceAccount", pod_spec.get("serviceAccountName", "")))
        report.check(
            account is not None and account.get("automountServiceAccountToken") is False,
            f"{where}: {service.name} has its own ServiceAccount without token automount",
            f"{where}: {service.name} ServiceAccount missing or automounts its token",
        )

        # The Service in front of it.
        kube_service = index.get(("Service", service.name))
        service_ports = {port.get("name"): port.get("port") for port in (kube_service or {}).get("spec", {}).get("ports") or []}
        report.check(
            kube_service is not None
            and service_ports.get("grpc") == service.grpc_port
            and service_ports.get("metrics") == service.metrics_port
            and _labels_match({"matchLabels": kube_service["spec"]["selector"]}, pod_labels),
            f"{where}: Service {service.name} exposes {service.grpc_port} and {service.metrics_port} and selects the pods",
            f"{where}: Service {service.name} missing, ports {service_ports}, or not selecting the pods",
        )

        # Migration Job, once per rollout.
        jobs = [
            document
            for (kind, name), document in index.items()
            if kind == "Job" and name.startswith(f"{service.binary}-migrate-")
        ]
        if report.check(
            len(jobs) == 1,
            f"{where}: {service.name} has one migration Job ({jobs[0]['metadata']['name'] if jobs else ''})",
            f"{where}: {service.name} has {len(jobs)} migration Jobs named {service.binary}-migrate-<tag>, expected 1",
        ):
            job = jobs[0]
            job_name = job["metadata"]["name"]
            report.check(
                job["metadata"].get("labels", {}).get("flatgov.io/rollout") == "migration",
                f"{where}: Job {job_name} is labelled flatgov.io/rollout=migration",
                f"{where}: Job {job_name} lacks the label flatgov.io/rollout=migration deploy/k8s/rollout selects it by",
            )
            job_container = job["spec"]["template"]["spec"]["containers"][0]
            report.check(
                job_container.get("command") == [service.binary, "migrate"],
                f"{where}: Job {job_name} runs `{service.binary} migrate`",
                f"{where}: Job {job_name} command is {job_container.get('command')!r}",
            )
            report.check(
                len(job_name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", job_name) is not None
                and not job_name.endswith("-unversioned"),
                f"{where}: Job {job_name} is named after the release and is a valid label value",
                f"{where}: Job name {job_name!r} is not release-named or not a valid (<= 63 character) label value",
            )
            job_values, job_secrets, job_problems = effective_env(job_container, index)
            for problem in job_problems:
                report.fail(f"{where}: Job {job_name}: {problem}")
            required = [
                name
                for name, how in variables_expected(facts[service.name], expected_calls).items()
                if how == "required"
            ]
            job_configured = set(job_values) | set(job_secrets)
            missing = [name for name in required if name not in job_configured]
            report.check(
                not missing and "DATABASE_URL" in job_secrets,
                f"{where}: Job {job_name} has DATABASE_URL and every required variable",
                f"{where}: Job {job_name} lacks {', '.join(missing) or 'DATABASE_URL from a Secret'}",
            )
            job_pod = job["spec"]["template"]["spec"]
            check_pod_security(report, f"{where}: Job {job_name}", job_pod, job_container)

        # Network policy: in on gRPC and metrics; out to DNS, NATS, the called
        # services and the own database only.
        policies = policies_selecting(documents, pod_labels)
        ingress_ports: set[int] = set()
        for policy in policies:
            for rule in policy["spec"].get("ingress") or []:
                ingress_ports |= _rule_ports(rule)
        report.check(
            bool(policies) and {service.grpc_port, service.metrics_port} <= ingress_ports,
            f"{where}: {service.name} NetworkPolicy admits gRPC {service.grpc_port} and metrics {service.metrics_port}",
            f"{where}: {service.name} NetworkPolicy ingress ports {sorted(ingress_ports)} lack gRPC or metrics",
        )
        allowed_calls = set()
        reaches_dns = reaches_nats = reaches_database = False
        unexpected = []
        for peer, rule_ports in egress_targets(policies):
            peer_labels = ((peer or {}).get("podSelector") or {}).get("matchLabels") or {}
            name = peer_labels.get("app.kubernetes.io/name", "")
            if rule_ports == {53}:
                reaches_dns = True
            elif name == "nats" and rule_ports == {4222}:
                reaches_nats = True
            elif rule_ports == {5432}:
                cluster = peer_labels.get("cnpg.io/cluster")
                if peer is None or cluster == f"{service.binary}-db":
                    reaches_database = True
                else:
                    unexpected.append(f"PostgreSQL of {cluster or peer}")
            elif name.startswith("flatgov-") and name[len("flatgov-"):] in services:
                target = name[len("flatgov-"):]
                if rule_ports == {services[target].grpc_port}:
                    allowed_calls.add(target)
                else:
                    unexpected.append(f"{target} on {sorted(rule_ports)}")
            else:
                unexpected.append(f"{peer or 'anywhere'} on {sorted(rule_ports) or 'every port'}")
        report.check(
            reaches_dns and reaches_nats and reaches_database,
            f"{where}: {service.name} may reach DNS, NATS and its database",
            f"{where}: {service.name} egress: DNS {reaches_dns}, NATS {reaches_nats}, its database {reaches_database}",
        )
        report.check(
            allowed_calls == expected_calls and not unexpected,
            f"{where}: {service.name} may call exactly {sorted(expected_calls) or 'no other service'}",
            f"{where}: {service.name} egress allows {sorted(allowed_calls)} (+{unexpected}), "
            f"its code calls {sorted(expected_calls)}",
        )

        if production:
            cluster_name = f"{service.binary}-db"
            cluster = index.get(("Cluster", cluster_name))
            initdb = ((cluster or {}).get("spec", {}).get("bootstrap") or {}).get("initdb") or {}
            report.check(
                cluster is not None
                and initdb.get("database") == service.database
                and (cluster["spec"].get("instances") or 0) >= 2,
                f"{where}: CloudNativePG Cluster {cluster_name} ({cluster['spec']['instances'] if cluster else 0} instances) creates {service.database}",
                f"{where}: no CloudNativePG Cluster {cluster_name} with >= 2 instances bootstrapping {service.database}",
            )
            report.check(
                database_secret is not None
                and database_secret.get("name") == f"{cluster_name}-app"
                and database_secret.get("key") == "uri",
                f"{where}: {service.name} DATABASE_URL is the `uri` of CloudNativePG secret {cluster_name}-app",
                f"{where}: {service.name} DATABASE_URL secret is {database_secret}, expected {cluster_name}-app/uri",
            )

    check_kubernetes_nats(report, overlay, index, production, nats_version, nats_server)


def check_kubernetes_nats(
    report: Report,
    overlay: str,
    index: dict[tuple[str, str], dict[str, Any]],
    production: bool,
    nats_version: str | None,
    nats_server: str | None,
) -> None:
    where = f"k8s {overlay}"
    statefulset = index.get(("StatefulSet", "nats"))
    if not report.check(statefulset is not None, f"{where}: NATS StatefulSet exists", f"{where}: no StatefulSet nats"):
        return
    assert statefulset is not None
    replicas = statefulset["spec"].get("replicas", 1)
    report.check(replicas == 3, f"{where}: NATS runs 3 servers", f"{where}: NATS runs {replicas} servers, expected 3")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    _check_nats_image(report, where, container.get("image", ""), nats_version)
    config_maps = [
        document
        for (kind, name), document in index.items()
        if kind == "ConfigMap" and "nats.conf" in (document.get("data") or {})
    ]
    if not report.check(len(config_maps) == 1, f"{where}: one NATS config", f"{where}: {len(config_maps)} ConfigMaps hold nats.conf"):
        return
    config = config_maps[0]["data"]["nats.conf"]
    routes = re.findall(r"nats://(nats-\d+)\.nats-headless:6222", config)
    report.check(
        sorted(routes) == [f"nats-{number}" for number in range(replicas)],
        f"{where}: the NATS cluster routes name all {replicas} servers",
        f"{where}: the NATS cluster routes {routes} do not match {replicas} servers",
    )
    report.check(
        re.search(r"^\s*sync_interval\s*:\s*always\s*$", config, re.M) is not None,
        f"{where}: NATS JetStream syncs every write (sync_interval: always)",
        f"{where}: nats.conf lacks `sync_interval: always`",
    )
    if nats_server:
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as handle:
            handle.write(config)
            config_path = handle.name
        result = subprocess.run(
            [nats_server, "-t", "-c", config_path],
            capture_output=True,
            text=True,
            check=False,
            env={"SERVER_NAME": "nats-0", "PATH": "/usr/bin:/bin"},
        )
        Path(config_path).unlink()
        report.check(
            result.returncode == 0,
            f"{where}: nats-server -t accepts the rendered nats.conf",
            f"{where}: nats-server -t rejects the rendered nats.conf: {(result.stdout + result.stderr).strip()}",
        )
    common = index_common_config(index)
    expected_replicas = "3" if production else None
    if expected_replicas:
        report.check(
            common.get("NATS_STREAM_REPLICAS") == expected_replicas,
            f"{where}: streams are replicated on {expected_replicas} NATS servers",
            f"{where}: NATS_STREAM_REPLICAS is {common.get('NATS_STREAM_REPLICAS')!r}, expected {expected_replicas}",
        )


def index_common_config(index: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    for (kind, name), document in index.items():
        if kind == "ConfigMap" and name.startswith("flatgov-common"):
            return {key: str(value) for key, value in (document.get("data") or {}).items()}
    return {}


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def check_code(report: Report, repo: Path, services: dict[str, ServiceSpec]) -> dict[str, CodeFacts]:
    service_directories = sorted(
        path.name for path in (repo / "services").iterdir() if (path / "Cargo.toml").exists()
    )
    report.check(
        set(service_directories) == set(services),
        f"services/ holds exactly the services of deploy/services.tsv: {', '.join(service_directories)}",
        f"services/ holds {service_directories}, deploy/services.tsv lists {sorted(services)}",
    )
    crates = workspace_crates(repo)
    facts: dict[str, CodeFacts] = {}
    for service in services.values():
        facts[service.name] = found = code_facts(repo, service, crates)
        names = ", ".join(sorted(found.variables)) or "none"
        print(f"info  code: {service.binary} reads {len(found.variables)} variables ({names})")
        for label, declared, expected in (
            ("gRPC", found.grpc_port, service.grpc_port),
            ("metrics", found.metrics_port, service.metrics_port),
        ):
            if declared is None:
                if found.has_binary:
                    field_name = "grpc_port" if label == "gRPC" else "metrics_port"
                    report.warn(f"code: no `{field_name}: N` in {service.binary}'s crate to compare with {expected}")
                continue
            report.check(
                declared == expected,
                f"code: {service.binary} declares {label} port {declared}",
                f"code: {service.binary} declares {label} port {declared}, deploy/services.tsv says {expected}",
            )
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument(
        "--rendered",
        action="append",
        default=[],
        metavar="OVERLAY=FILE",
        help="a rendered Kustomize overlay (kubectl kustomize output)",
    )
    parser.add_argument("--kubernetes-validate", default="kubernetes-validate")
    parser.add_argument("--nats-server", default=None, help="nats-server binary for `-t` on rendered configs")
    parser.add_argument("--nats-version", default=None, help="the nats-server release the configs are validated with")
    parser.add_argument("--quiet", action="store_true", help="print failures and warnings only")
    arguments = parser.parse_args(argv)

    repo = arguments.repo.resolve()
    report = Report(quiet=arguments.quiet)
    services = load_service_table(repo / "deploy/services.tsv")
    facts = check_code(report, repo, services)
    check_compose(report, repo, repo / "docker-compose.yml", services, facts, arguments.nats_version)
    for item in arguments.rendered:
        overlay, _, file_name = item.partition("=")
        documents = load_documents(Path(file_name))
        validate_kubernetes(report, overlay, documents, arguments.kubernetes_validate, repo / "deploy/k8s/schemas")
        if overlay != "base":
            check_kubernetes_overlay(
                report, overlay, documents, services, facts, arguments.nats_version, arguments.nats_server
            )

    print(
        f"\ncheck_deploy: {report.passed} checks passed, {len(report.failures)} failed, "
        f"{len(report.warnings)} warnings"
    )
    if report.failures:
        print("\nFailures:")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
