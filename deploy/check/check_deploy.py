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
  crate and in the workspace crates it depends on, directly or through a
  helper's parameter) is set in compose and in Kubernetes, or is one that may
  deliberately be left to its default; none that must never be set is;
* every *_FILE variable names a file of a mounted volume (Kubernetes: of a
  Secret), and dedicated secrets reach only their service;
* health checks, probes, migrations, NetworkPolicies, security settings and
  replica counts say what docs/deploy.md promises, and deploy/k8s/rollout
  checks exactly the secrets the pods use;
* in production, every service's database cluster replicates synchronously,
  archives its WAL to an object store with a retention policy and has a
  ScheduledBackup (docs/deploy.md, "Backups and point-in-time recovery").

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
# Entries marked "set explicitly" are local policy: compose and the Kubernetes
# ConfigMaps also carry them, at the code's default, so an operator sees where
# to change them; the entry here only keeps the check from demanding them.
MAY_BE_LEFT_TO_DEFAULT: dict[str, str] = {
    # Chassis.
    "NATS_SUBJECT_PREFIX": "test isolation only; a deployment must never set it",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "trace export is opt-in; unset means no export",
    "DATABASE_OWNER_URL": "the owner's credentials belong to the migration only (see MUST_NOT_BE_SET); "
    "the Jobs and compose's <svc>-migrate one-shots are checked to have it",
    "AUTH_AUDIENCE": "flatgov.<svc>, per service: a shared value would let a token meant for one service "
    "be replayed against another",
    "AUTH_MAX_SERVICE_TOKEN_SECONDS": "900: the longest a service token may live (security limit at the code's default)",
    "AUTH_MAX_PERSON_TOKEN_SECONDS": "36000, a working day: the longest a person's token may live",
    "AUTH_OIDC_ISSUER": "people's tokens from an OpenID Connect provider are opt-in (compose and dev: the "
    "platform's people key signs them); the production overlay is checked to set it",
    "AUTH_OIDC_JWKS_URL": "the provider's keys are found through discovery from AUTH_OIDC_ISSUER",
    "AUTH_OIDC_JWKS_FILE": "the provider's keys are found through discovery from AUTH_OIDC_ISSUER",
    "AUTH_OIDC_AUDIENCE": "flatgov, the client id; read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_SUBJECT_CLAIM": "sub; read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_ROLES_CLAIM": "roles; read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_ROLE_MAP": "empty (provider roles named like flatgov's count); read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_ORG_CLAIM": "org; read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_JURISDICTION_CLAIM": "jurisdiction; read only with AUTH_OIDC_ISSUER",
    "AUTH_OIDC_REFRESH_SECONDS": "300: how often the provider's keys are fetched again",
    "GRPC_TLS_CLIENT_CA_FILE": "mutual TLS is opt-in: callers authenticate with their tokens; set it (and give "
    "every caller a certificate) to require client certificates too",
    "GRPC_TLS_CLIENT_CERT_FILE": "the service presents its own server certificate to the services it calls",
    "GRPC_TLS_CLIENT_KEY_FILE": "the key of the service's own server certificate",
    "NATS_TLS_CLIENT_CERT_FILE": "the NATS servers ask for no client certificate: each service's nkey authenticates it",
    "NATS_TLS_CLIENT_KEY_FILE": "the NATS servers ask for no client certificate: each service's nkey authenticates it",
    "OUTBOX_MAX_PUBLISH_ATTEMPTS": "10: failed publishes of a row's own (never an outage's) before it is parked; "
    "alert on flatgov_outbox_parked > 0 either way",
    # blocks (services/blocks/src/config.rs, docs/blocks.md).
    "BLOCKS_AREA_TOLERANCE_M2": "1 m²: slivers of gap or overlap at or below it are survey rounding, not findings",
    "BLOCKS_HOUSEHOLDS_TARGET": "350 households, the model's block size (local policy: set explicitly)",
    "BLOCKS_HOUSEHOLDS_BAND_FRACTION": "0.5, a warning outside 350 ± 50 % (local policy: set explicitly)",
    "BLOCKS_REFRESH_INTERVAL_MS": "1000: only the fallback poll behind the change notifications",
    "BLOCKS_HISTORY_CACHE_GENERATIONS": "4 retired generations' indexes in memory for historical lookups; memory tuning",
    # duties (services/duties/src/lib.rs, docs/duties.md).
    "DUTIES_ANNOUNCER_MAX_SLEEP_SECONDS": "30: the most an announcement scheduled by another replica fires late",
    # cases (services/cases/src/config.rs, docs/cases.md).
    "CASES_WORKING_HOURS": "08:30-12:00,14:30-17:30 China time (local policy: set explicitly)",
    "CASES_CALENDAR_DIR": "the holiday calendars are bundled in the binary; a directory only adds or replaces years",
    "CASES_SLA_FRONT_LINE": "2h,3d,2d accept/resolve/rework (local policy: set explicitly)",
    "CASES_SLA_COORDINATION_MEETING": "1d,7d,3d accept/resolve/rework (local policy: set explicitly)",
    "CASES_SLA_WHISTLE": "4h,10d,5d accept/resolve/rework (local policy: set explicitly)",
    "CASES_ME_TOO_RADIUS_METRES": "50 m: reports this close (and within the window) join an open case",
    "CASES_ME_TOO_WINDOW_HOURS": "72 h: the time window of the \"me too\" rule",
    "CASES_TRIAGE_CONCURRENCY": "32 triage jobs at once per replica; throughput tuning",
    "CASES_TRIAGE_RETRY_INITIAL_MS": "1000: first retry after blocks or duties failed, doubling",
    "CASES_TRIAGE_RETRY_MAX_MS": "60000: the longest pause between triage retries",
    "CASES_CALL_TIMEOUT_MS": "5000: one call to blocks or duties",
    "CASES_WORKER_POLL_MS": "1000: only the fallback poll behind the workers' notifications",
    "CASES_TEST_CONTROLS": "defaults to `disabled`, the only value a deployment may have (see MUST_NOT_BE_SET)",
    # enforcement (services/enforcement/src/lib.rs, docs/enforcement.md).
    "ENFORCEMENT_REPORT_IN_LIMIT_URGENT": "30m, the model's 30 minutes to report in (local policy: set explicitly)",
    "ENFORCEMENT_REPORT_IN_LIMIT_NORMAL": "2h to report in to an ordinary whistle (local policy: set explicitly)",
    "ENFORCEMENT_DEFAULT_SUMMONED_AGENCIES": "urban management, market supervision, public security, the model's "
    "three (local policy: set explicitly)",
    "ENFORCEMENT_AGENCY_RESOLUTION_PATIENCE": "2m wait for unreachable duty lists before the default set is summoned",
    # federation.
    "FEDERATION_DEVELOPMENT_IDENTITY_KEY": "false, the only value a deployment may have (see MUST_NOT_BE_SET)",
    # mediation (services/mediation/src/lib.rs, docs/mediation.md).
    "MEDIATION_WORKING_HOURS": "08:30-12:00,14:30-17:30 China time (local policy: set explicitly)",
    "MEDIATION_TIME_LIMITS": "30d,30d,60d people's/administrative/judicial (local policy: set explicitly)",
    "MEDIATION_WORKER_POLL_MS": "1000: how late a passed time limit is found at most",
    "MEDIATION_TEST_CONTROLS": "defaults to `disabled`, the only value a deployment may have (see MUST_NOT_BE_SET)",
    # errands (services/errands/src/lib.rs, docs/errands.md).
    "ERRANDS_WORKING_HOURS": "08:30-12:00,14:30-17:30 China time (local policy: set explicitly)",
    "ERRANDS_TEST_CONTROLS": "defaults to `disabled`, the only value a deployment may have (see MUST_NOT_BE_SET)",
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
    "CASES_TEST_CONTROLS": "is for test deployments only: `enabled` lets AdvanceTestClock move every deadline "
    "forward (docs/cases.md); the default `disabled` is the production value",
    "DATABASE_OWNER_URL": "holds the database owner's credentials, which only the migration (the Job, "
    "compose's <svc>-migrate one-shot) may have: the service runs as the application role, which may only "
    "append to its audit and history tables",
    "MEDIATION_TEST_CONTROLS": "is for test deployments only: `enabled` lets AdvanceTestClock move every time "
    "limit forward (docs/mediation.md); the default `disabled` is the production value",
    "ERRANDS_TEST_CONTROLS": "is for test deployments only: `enabled` lets AdvanceTestClock move every time "
    "limit forward (docs/errands.md); the default `disabled` is the production value",
    "FEDERATION_DEVELOPMENT_IDENTITY_KEY": "is for development machines only: it keeps the identity key in the "
    "database it protects; deployments mount FEDERATION_IDENTITY_KEY_FILE",
}

# Variables a running service must have set, whatever the allow-list says:
# TLS on gRPC (server, and the authority it verifies others with), NATS over
# TLS as its own user, the key set.
TRANSPORT_VARIABLES = (
    "GRPC_TLS_CERT_FILE",
    "GRPC_TLS_KEY_FILE",
    "GRPC_TLS_CA_FILE",
    "NATS_TLS_CA_FILE",
    "NATS_CREDENTIALS_FILE",
    "AUTH_JWKS_FILE",
)

# Files a service must hold as its own (compose: in its own volume; Kubernetes:
# from a secret named after it), never shared with another service.
OWN_FILE_VARIABLES = (
    "GRPC_TLS_KEY_FILE",
    "NATS_CREDENTIALS_FILE",
    "AUTH_SIGNING_KEY_FILE",
    "FEDERATION_IDENTITY_KEY_FILE",
)

# Secrets every flatgov server pod may mount besides its own
# (`flatgov-<svc>-*`): public material only.
SHARED_SECRETS: dict[str, str] = {
    "flatgov-jwks": "the key set verifying tokens (public keys)",
}

# docker-compose.yml: the volume every service mounts (public trust: key set,
# authority) and the one-shot that fills each service's own volume.
COMPOSE_TRUST_VOLUME = "flatgov-trust"
COMPOSE_INIT = "init"
COMPOSE_INIT_SCRIPT = "deploy/compose/init/flatgov-init.sh"

# Custom resources kubernetes-validate has no schema for, and the JSON schema
# (under deploy/k8s/schemas/) they are validated against instead.
CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], str] = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster.schema.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "cnpg-scheduledbackup.schema.json",
    ("cert-manager.io/v1", "Certificate"): "cert-manager-certificate.schema.json",
    ("cert-manager.io/v1", "Issuer"): "cert-manager-issuer.schema.json",
}

# Secrets only one service's server pods may mount (not its migration Job, not
# another service), and the variable of that service that must point into
# the mount.
DEDICATED_SECRETS: dict[str, tuple[str, str]] = {
    "flatgov-federation-identity-key": ("federation", "FEDERATION_IDENTITY_KEY_FILE"),
}

CALL_VARIABLE = re.compile(r"^([A-Z]+)_URL$")
# Variables naming a file the service reads (keys): the file must be mounted.
FILE_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*_FILE$")


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


# A read whose name is an identifier rather than a literal: `.maybe::<String>(name,`.
# Resolved when the identifier is a parameter of the enclosing function (a
# helper such as cases' `time_limits(env, "CASES_SLA_WHISTLE", …)`), whose
# callers then name the variable.
ENV_CALL_BY_IDENTIFIER = re.compile(
    r"\.\s*(required|optional|maybe)\s*(?:::\s*<[^()]*?>\s*)?\(\s*([a-z_][A-Za-z0-9_]*)\s*[,)]"
)
# Calls on the configuration source itself (`env.…`, `self.env.…`): whatever
# their first argument, the checker must be able to name the variable.
ENV_RECEIVER_CALL = re.compile(r"\benv\s*\.\s*(required|optional|maybe)\s*(?:::\s*<[^()]*?>\s*)?\(")
VARIABLE_LITERAL = re.compile(r'^"([A-Z][A-Z0-9_]*)"$')
FUNCTION_START = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)\b")
SELF_PARAMETER = re.compile(r"^&?\s*(?:'[A-Za-z_]\w*\s+)?(?:mut\s+)?self\b")
PARAMETER_NAME = re.compile(r"^(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:")
HOW_STRENGTH = {"maybe": 0, "optional": 1, "required": 2}


def _skip_literal(source: str, index: int) -> int | None:
    """Index past the string or char literal at `index`, or None if there is none."""
    char = source[index]
    if char == '"' or (char == "r" and RAW_STRING_START.match(source, index)
                       and (index == 0 or not (source[index - 1].isalnum() or source[index - 1] == "_"))):
        return _string_end(source, index)
    if char == "'":
        literal = CHAR_LITERAL.match(source, index)
        if literal:
            return index + len(literal.group(0))
    return None


def _matching(source: str, open_index: int) -> int:
    """Index of the bracket closing the one at `open_index` ((, [ or {)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[source[open_index]]]
    index = open_index + 1
    while index < len(source) and stack:
        skipped = _skip_literal(source, index)
        if skipped is not None:
            index = skipped
            continue
        char = source[index]
        if char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
        index += 1
    return index - 1


def _split_arguments(text: str, angle_brackets: bool) -> list[str]:
    """Top-level comma-separated parts; `angle_brackets` for parameter lists,
    where `HashMap<K, V>` holds a comma that separates nothing."""
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(text):
        skipped = _skip_literal(text, index)
        if skipped is not None:
            index = skipped
            continue
        char = text[index]
        if text.startswith("->", index):
            index += 2
            continue
        if char in "([{" or (angle_brackets and char == "<"):
            depth += 1
        elif char in ")]}" or (angle_brackets and char == ">"):
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
        index += 1
    last = text[start:].strip()
    if last:
        parts.append(last)
    return parts


@dataclass(frozen=True)
class EnvHelper:
    """A function that reads the variable named by one of its parameters."""

    argument: int  # position among the arguments, `self` not counted
    how: str
    is_method: bool


@dataclass
class _Function:
    name: str
    parameters: list[str]
    is_method: bool
    body_start: int
    body_end: int


def _functions(cleaned: str) -> list[_Function]:
    functions = []
    for match in FUNCTION_START.finditer(cleaned):
        index = match.end()
        depth = 0
        while index < len(cleaned):  # the parameter list's `(`, past any generics
            if cleaned.startswith("->", index):
                index += 2
                continue
            char = cleaned[index]
            if char == "<":
                depth += 1
            elif char == ">":
                depth -= 1
            elif char == "(" and depth <= 0:
                break
            elif char in "{;" and depth <= 0:
                index = -1
                break
            index += 1
        if index < 0 or index >= len(cleaned):
            continue
        close = _matching(cleaned, index)
        parameters = _split_arguments(cleaned[index + 1 : close], angle_brackets=True)
        is_method = bool(parameters) and SELF_PARAMETER.match(parameters[0]) is not None
        names = []
        for parameter in parameters[1:] if is_method else parameters:
            named = PARAMETER_NAME.match(parameter)
            names.append(named.group(1) if named else "")
        body = index = close + 1
        while body < len(cleaned) and cleaned[body] not in "{;":
            body += 1
        if body >= len(cleaned) or cleaned[body] == ";":
            continue  # a declaration without a body
        functions.append(_Function(match.group(1), names, is_method, body, _matching(cleaned, body)))
    return functions


def _calls(cleaned: str, name: str) -> Iterable[tuple[bool, list[str], int]]:
    """(called with a dot, arguments, position) of every call of `name`."""
    pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"\s*(?:::\s*<[^()]*?>\s*)?\(")
    for match in pattern.finditer(cleaned):
        before = cleaned[: match.start()].rstrip()
        if re.search(r"\bfn$", before):
            continue  # the definition
        open_index = match.end() - 1
        close = _matching(cleaned, open_index)
        arguments = _split_arguments(cleaned[open_index + 1 : close], angle_brackets=False)
        yield before.endswith("."), arguments, match.start()


def env_reads(sources: dict[str, str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The variables a set of Rust sources reads.

    `sources` maps a label (a path) to source text. Returns variable name ->
    (how, label of the first source reading it), and the reads whose variable
    cannot be named (label and snippet). A variable read both ways counts as
    required. Names passed through helper functions (a parameter handed on to
    `.required`/`.optional`/`.maybe`, across files and helpers of helpers)
    are resolved at the helpers' call sites."""
    cleaned = {label: strip_test_modules(strip_comments(text)) for label, text in sources.items()}
    found: dict[str, tuple[str, str]] = {}

    def record(name: str, how: str, label: str) -> None:
        previous = found.get(name)
        if previous is None or HOW_STRENGTH[how] > HOW_STRENGTH[previous[0]]:
            found[name] = (how, previous[1] if previous else label)

    for label, text in cleaned.items():
        for how, name in ENV_CALL.findall(text):
            record(name, how, label)

    functions = {label: _functions(text) for label, text in cleaned.items()}
    helpers: dict[str, EnvHelper] = {}
    resolved: set[tuple[str, int]] = set()  # (label, position) of reads a helper parameter names
    changed = True
    while changed:
        changed = False
        for label, text in cleaned.items():
            for function in functions[label]:
                body = text[function.body_start : function.body_end]
                reads: list[tuple[str, str, int]] = [
                    (match.group(2), match.group(1), match.start()) for match in ENV_CALL_BY_IDENTIFIER.finditer(body)
                ]
                for helper_name, helper in list(helpers.items()):
                    for dotted, arguments, position in _calls(body, helper_name):
                        index = helper.argument + (1 if helper.is_method and not dotted else 0)
                        if index < len(arguments) and re.fullmatch(r"[a-z_][A-Za-z0-9_]*", arguments[index]):
                            reads.append((arguments[index], helper.how, position))
                for identifier, how, position in reads:
                    # The Env API itself (and look-alikes) is not a helper.
                    if identifier not in function.parameters or function.name in HOW_STRENGTH:
                        continue
                    resolved.add((label, function.body_start + position))
                    helper = EnvHelper(function.parameters.index(identifier), how, function.is_method)
                    known = helpers.get(function.name)
                    if known is None or HOW_STRENGTH[how] > HOW_STRENGTH[known.how]:
                        helpers[function.name] = helper
                        changed = True

    for helper_name, helper in helpers.items():
        for label, text in cleaned.items():
            for dotted, arguments, _position in _calls(text, helper_name):
                index = helper.argument + (1 if helper.is_method and not dotted else 0)
                literal = VARIABLE_LITERAL.match(arguments[index]) if index < len(arguments) else None
                if literal:
                    record(literal.group(1), helper.how, label)

    unresolved: list[str] = []
    for label, text in cleaned.items():
        for match in ENV_RECEIVER_CALL.finditer(text):
            close = _matching(text, match.end() - 1)
            arguments = _split_arguments(text[match.end() : close], angle_brackets=False)
            first = arguments[0] if arguments else ""
            if VARIABLE_LITERAL.match(first):
                continue
            dot = text.index(".", match.start())
            if any(
                lab == label and dot <= position < close for lab, position in resolved
            ):
                continue
            snippet = " ".join(text[match.start() : min(close + 1, match.start() + 80)].split())
            unresolved.append(f"{label}: {snippet}")
    return found, unresolved


def env_vars_in_rust(source: str) -> dict[str, str]:
    """Variable name -> how one Rust source reads it (required, optional or maybe)."""
    found, _unresolved = env_reads({"source": source})
    return {name: how for name, (how, _label) in found.items()}


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
    # Reads whose variable the checker cannot name (file and snippet).
    unresolved: list[str] = field(default_factory=list)


def code_facts(repo: Path, service: ServiceSpec, crates: dict[str, CrateInfo]) -> CodeFacts:
    package = f"flatgov-{service.name}"
    has_binary = (repo / "services" / service.name / "src" / "main.rs").exists()
    grpc_port = metrics_port = None
    closure = crate_closure(crates, package)
    texts: dict[str, str] = {}
    for crate in closure:
        for path in production_sources(crate):
            text = path.read_text(errors="replace")
            texts[str(path.relative_to(repo))] = text
            if crate.name == package:
                cleaned = strip_comments(text)
                grpc = re.search(r"\bgrpc_port\s*:\s*(\d+)", cleaned)
                metrics = re.search(r"\bmetrics_port\s*:\s*(\d+)", cleaned)
                grpc_port = int(grpc.group(1)) if grpc else grpc_port
                metrics_port = int(metrics.group(1)) if metrics else metrics_port
    found, unresolved = env_reads(texts)
    variables = {name: how for name, (how, _label) in found.items()}
    sources = {name: label for name, (_how, label) in found.items()}
    return CodeFacts(
        has_binary, variables, sources, grpc_port, metrics_port, [c.name for c in closure], unresolved
    )


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
    nats_server: str | None = None,
    tls_fixtures: Path | None = None,
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
            source = _volume_mount(volume)[0]
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
    signers: set[str] = set()

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
        migrate = f"{service.name}-migrate"
        depends = definition.get("depends_on") or {}
        conditions = {key: (value or {}).get("condition") for key, value in depends.items()} if isinstance(depends, dict) else {}
        report.check(
            conditions.get("postgres") == "service_healthy"
            and conditions.get("nats") == "service_healthy"
            and conditions.get(COMPOSE_INIT) == "service_completed_successfully"
            and conditions.get(migrate) == "service_completed_successfully",
            f"{where}: {service.name} waits for healthy postgres and nats, the {COMPOSE_INIT} one-shot and {migrate}",
            f"{where}: {service.name} depends_on conditions are {conditions}, expected postgres and nats healthy, "
            f"{COMPOSE_INIT} and {migrate} completed",
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
        report.check(
            configured.get("DATABASE_MIGRATE_ON_START") == "false",
            f"{where}: {service.name} does not migrate at start ({migrate} does, as the owner)",
            f"{where}: {service.name} DATABASE_MIGRATE_ON_START is {configured.get('DATABASE_MIGRATE_ON_START')!r}, "
            f"expected false: migrating needs the owner's credentials, which only {migrate} holds",
        )
        mounts = _compose_mounts(definition)
        database_url = configured.get("DATABASE_URL", "")
        _check_compose_database(
            report, f"{where}: {service.name}", service, database_url, f"{service.database}_app",
            f"FLATGOV_{service.name.upper()}_DB_PASSWORD", postgres_environment, mounts,
        )
        report.check(
            f"{service.name}:{service.metrics_port}" in prometheus_targets,
            f"{where}: prometheus scrapes {service.name}:{service.metrics_port}",
            f"{where}: deploy/compose/prometheus.yml has no target {service.name}:{service.metrics_port}",
        )
        calls = called_services(service, services, facts[service.name], configured)
        check_variables(report, where, service, facts[service.name], configured, calls)
        _check_compose_files(report, service, definition, configured)
        _check_compose_secrets(report, service, mounts, configured)
        _check_transport(report, where, service, configured)
        if configured.get("AUTH_SIGNING_KEY_FILE"):
            signers.add(service.name)
        for target in sorted(calls):
            variable = f"{target.upper()}_URL"
            expected = f"https://{target}:{services[target].grpc_port}"
            report.check(
                configured.get(variable) == expected,
                f"{where}: {service.name} calls {target} at {expected}",
                f"{where}: {service.name} {variable} is {configured.get(variable)!r}, expected {expected}",
            )
        report.check(
            configured.get("NATS_URL") == "tls://nats:4222",
            f"{where}: {service.name} reaches NATS over TLS (tls://nats:4222)",
            f"{where}: {service.name} NATS_URL is {configured.get('NATS_URL')!r}, expected tls://nats:4222",
        )
        _check_compose_migrate(
            report, service, compose_services.get(migrate), database_url, postgres_environment, environment
        )

    _check_compose_init(report, compose_services, services, signers)
    check_gateway_compose(report, compose_services, services, facts.get(GATEWAY.name), postgres_environment, environment)
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
        expected = f"https://{service.name}:{service.grpc_port}"
        report.check(
            demo_environment.get(variable) == expected,
            f"compose: demo reaches {service.name} at {expected}",
            f"compose: demo {variable} is {demo_environment.get(variable)!r}, expected {expected}",
        )
    demo_ca = demo_environment.get("FLATGOV_CA_FILE", "")
    report.check(
        any(_is_under(demo_ca, target) for _source, target, _ro in _compose_mounts(demo)),
        f"compose: demo verifies the services against {demo_ca} (FLATGOV_CA_FILE, mounted)",
        f"compose: demo FLATGOV_CA_FILE {demo_ca!r} is not a file of one of its volumes",
    )
    for name in ("otel-collector", "jaeger", "prometheus"):
        report.check(
            "observability" in (compose_services.get(name, {}).get("profiles") or []),
            f"compose: {name} runs in the observability profile",
            f"compose: {name} missing or not in the observability profile",
        )
    nats = compose_services.get("nats", {})
    _check_nats_image(report, "compose", nats.get("image", ""), nats_version)
    config_path = repo / "deploy/compose/nats.conf"
    nats_config = config_path.read_text()
    report.check(
        re.search(r"^\s*sync_interval\s*:\s*always\s*$", nats_config, re.M) is not None,
        "compose: NATS JetStream syncs every write (sync_interval: always)",
        "compose: deploy/compose/nats.conf lacks `sync_interval: always`",
    )
    nats_mounts = _compose_mounts(nats)
    config_target = next((target for source, target, _ro in nats_mounts if source.endswith("deploy/compose/nats.conf")), "")
    check_nats_security(report, "compose", nats_config, config_target, nats_mounts_as_files(nats_mounts))
    _check_compose_postgres(report, compose_path.parent, compose_services.get("postgres", {}))
    if nats_server and tls_fixtures and config_target:
        check_nats_config_with_server(
            report, "compose: nats-server -t deploy/compose/nats.conf", nats_server, nats_config, config_target,
            nats_mounts_as_files(nats_mounts), tls_fixtures,
        )
    check_otel_collector_config(report, repo / "deploy/compose/otel-collector.yaml")


def _volume_mount(volume: Any) -> tuple[str, str, bool]:
    """(source, target, read-only) of a compose volume, short or long syntax."""
    if isinstance(volume, str):
        parts = volume.split(":")
        if len(parts) == 1:
            return "", parts[0], False
        return parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")
    return str(volume.get("source", "") or ""), str(volume.get("target", "")), bool(volume.get("read_only"))


def _compose_mounts(definition: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [_volume_mount(volume) for volume in definition.get("volumes") or []]


def nats_mounts_as_files(mounts: list[tuple[str, str, bool]]) -> dict[str, str]:
    """Mount target -> what is mounted there (a volume name or repository path)."""
    return {target: source for source, target, _ro in mounts}


def _check_compose_secrets(
    report: Report, service: ServiceSpec, mounts: list[tuple[str, str, bool]], configured: dict[str, str]
) -> None:
    """A service mounts the public trust and its own volume, read-only, and
    nothing else: never the state volumes (the people key, every service's
    key and seed, the authority's key) nor another service's volume."""
    own = f"flatgov-{service.name}"
    named = sorted(source for source, _target, _ro in mounts if source and not source.startswith((".", "/")))
    report.check(
        named == sorted([COMPOSE_TRUST_VOLUME, own]),
        f"compose: {service.name} mounts only {COMPOSE_TRUST_VOLUME} and its own volume {own}",
        f"compose: {service.name} mounts volumes {named}, expected exactly {COMPOSE_TRUST_VOLUME} and {own} "
        "(a service gets only its own key, seed and certificate)",
    )
    writable = [target for source, target, read_only in mounts if source and not read_only]
    report.check(
        not writable,
        f"compose: {service.name} mounts its volumes read-only",
        f"compose: {service.name} mounts {writable} writable",
    )
    own_target = next((target for source, target, _ro in mounts if source == own), None)
    for name in OWN_FILE_VARIABLES:
        value = configured.get(name)
        if not value:
            continue
        report.check(
            own_target is not None and _is_under(value, own_target),
            f"compose: {service.name} {name} is in its own volume {own}",
            f"compose: {service.name} {name} {value} is not in its own volume {own} ({own_target})",
        )
    people = [name for name, value in configured.items() if FILE_VARIABLE.match(name) and value.endswith("people.pem")]
    report.check(
        not people,
        f"compose: {service.name} has no people key",
        f"compose: {service.name} points {people} at the people key, which no service may hold",
    )


def _check_transport(report: Report, where: str, service: ServiceSpec, configured: dict[str, str]) -> None:
    """gRPC over TLS, NATS over TLS as its own user, tokens verified by the key set."""
    missing = [name for name in TRANSPORT_VARIABLES if not configured.get(name)]
    report.check(
        not missing,
        f"{where}: {service.name} serves gRPC over TLS, verifies others, reaches NATS over TLS as its own user",
        f"{where}: {service.name} does not set {', '.join(missing)}",
    )
    if "AUTH_AUDIENCE" in configured:
        report.check(
            configured["AUTH_AUDIENCE"] == f"flatgov.{service.name}",
            f"{where}: {service.name} AUTH_AUDIENCE is its own",
            f"{where}: {service.name} AUTH_AUDIENCE is {configured['AUTH_AUDIENCE']!r}: leave it to flatgov.{service.name}, "
            "or another service's tokens are accepted",
        )


DATABASE_URL_SHAPE = re.compile(r"^postgres(?:ql)?://([^:@/]+)(?::([^@/]*))?@([^:/]+):(\d+)/([^?]+)(?:\?(.*))?$")


def _tls_parameters(url: str) -> dict[str, str]:
    query = url.partition("?")[2]
    return dict(part.partition("=")[::2] for part in query.split("&") if part)


def _check_compose_database(
    report: Report,
    where: str,
    service: ServiceSpec,
    url: str,
    role: str,
    password_variable: str,
    postgres_environment: dict[str, str],
    mounts: list[tuple[str, str, bool]],
    what: str = "DATABASE_URL",
) -> None:
    match = DATABASE_URL_SHAPE.match(url)
    if not report.check(
        match is not None,
        f"{where} {what} is a postgres:// URL with user and password",
        f"{where} {what} {url!r} is not postgres://user:password@host:port/database",
    ):
        return
    assert match is not None
    user, password, host, _port, database, _query = match.groups()
    report.check(
        database == service.database and user == role and host == "postgres",
        f"{where} {what} is role {role} on its own database {service.database}",
        f"{where} {what} names role {user} and database {database} on {host}, expected {role} on "
        f"{service.database} at postgres",
    )
    report.check(
        postgres_environment.get(password_variable) == (password or ""),
        f"{where} {what}: the postgres init script creates {user} with this password",
        f"{where} {what}: postgres {password_variable} differs from the password in the URL",
    )
    parameters = _tls_parameters(url)
    root = parameters.get("sslrootcert", "")
    report.check(
        parameters.get("sslmode") == "verify-full"
        and any(_is_under(root, target) for _source, target, _ro in mounts),
        f"{where} {what} verifies the server (sslmode=verify-full, sslrootcert {root} mounted)",
        f"{where} {what} must say sslmode=verify-full and sslrootcert=<a file of its volumes>, says {parameters}",
    )


def _check_compose_migrate(
    report: Report,
    service: ServiceSpec,
    definition: dict[str, Any] | None,
    service_url: str,
    postgres_environment: dict[str, str],
    environment: dict[str, str],
) -> None:
    """`<svc>-migrate`: the only container with the owner's credentials."""
    name = f"{service.name}-migrate"
    where = f"compose: {name}"
    if not report.check(
        definition is not None,
        f"compose: {service.name} migrates through the one-shot {name}",
        f"compose: no one-shot {name} running `{service.binary} migrate` as the database owner",
    ):
        return
    assert definition is not None
    configured = compose_environment(definition, environment)
    report.check(
        definition.get("command") == [service.binary, "migrate"] and definition.get("restart") in ("no", None),
        f"{where} runs `{service.binary} migrate` once",
        f"{where} command is {definition.get('command')!r} (restart {definition.get('restart')!r}), "
        f"expected [{service.binary!r}, 'migrate'] without restarts",
    )
    depends = definition.get("depends_on") or {}
    conditions = {key: (value or {}).get("condition") for key, value in depends.items()} if isinstance(depends, dict) else {}
    report.check(
        conditions.get("postgres") == "service_healthy"
        and conditions.get(COMPOSE_INIT) == "service_completed_successfully",
        f"{where} waits for healthy postgres and the {COMPOSE_INIT} one-shot",
        f"{where} depends_on conditions are {conditions}",
    )
    mounts = _compose_mounts(definition)
    _check_compose_database(
        report, where, service, configured.get("DATABASE_OWNER_URL", ""), service.database,
        f"FLATGOV_{service.name.upper()}_DB_OWNER_PASSWORD", postgres_environment, mounts, "DATABASE_OWNER_URL",
    )
    report.check(
        configured.get("DATABASE_URL") == service_url,
        f"{where} grants to the role {service.name} runs as (the same DATABASE_URL)",
        f"{where} DATABASE_URL differs from {service.name}'s: the grants would go to another role",
    )
    named = sorted(source for source, _target, _ro in mounts if source and not source.startswith((".", "/")))
    report.check(
        named == [COMPOSE_TRUST_VOLUME],
        f"{where} mounts only {COMPOSE_TRUST_VOLUME} (no key, seed or certificate of the service)",
        f"{where} mounts volumes {named}, expected only {COMPOSE_TRUST_VOLUME}",
    )


def _check_compose_init(
    report: Report, compose_services: dict[str, Any], services: dict[str, ServiceSpec], signers: set[str]
) -> None:
    """The one-shot that makes and hands out keys, certificates and NATS users."""
    init = compose_services.get(COMPOSE_INIT)
    if not report.check(
        init is not None,
        f"compose: the {COMPOSE_INIT} one-shot exists",
        f"compose: no {COMPOSE_INIT} one-shot making the keys, certificates and NATS users",
    ):
        return
    assert init is not None
    mounts = _compose_mounts(init)
    command = init.get("command") or []
    script_directory = next(
        (target for source, target, _ro in mounts if source.rstrip("/").endswith(str(Path(COMPOSE_INIT_SCRIPT).parent))),
        None,
    )
    expected_script = f"{script_directory}/{Path(COMPOSE_INIT_SCRIPT).name}" if script_directory else None
    report.check(
        expected_script is not None and expected_script in command and init.get("restart") in ("no", None),
        f"compose: {COMPOSE_INIT} runs {COMPOSE_INIT_SCRIPT} once",
        f"compose: {COMPOSE_INIT} command {command!r} does not run {COMPOSE_INIT_SCRIPT} from its mount",
    )
    init_environment = compose_environment(init, {})
    listed = set(init_environment.get("FLATGOV_SERVICES", "").split())
    callers = set(init_environment.get("FLATGOV_CALLERS", "").split())
    report.check(
        listed == set(services),
        f"compose: {COMPOSE_INIT} provisions every service (FLATGOV_SERVICES)",
        f"compose: {COMPOSE_INIT} FLATGOV_SERVICES is {sorted(listed)}, expected {sorted(services)}",
    )
    report.check(
        callers == signers,
        f"compose: {COMPOSE_INIT} hands signing keys to exactly the services that sign ({sorted(signers)})",
        f"compose: {COMPOSE_INIT} FLATGOV_CALLERS is {sorted(callers)}, the services setting AUTH_SIGNING_KEY_FILE "
        f"are {sorted(signers)}",
    )
    volumes = {source for source, _target, _ro in mounts}
    expected = {COMPOSE_TRUST_VOLUME} | {f"flatgov-{name}" for name in services}
    report.check(
        expected <= volumes,
        f"compose: {COMPOSE_INIT} fills {COMPOSE_TRUST_VOLUME} and each service's own volume",
        f"compose: {COMPOSE_INIT} does not mount {sorted(expected - volumes)}",
    )


def _check_compose_postgres(report: Report, root: Path, postgres: dict[str, Any]) -> None:
    """PostgreSQL serves TLS with the init one-shot's certificate and its
    pg_hba.conf refuses TCP without TLS."""
    command = postgres.get("command") or []
    settings = dict(
        str(command[index + 1]).partition("=")[::2]
        for index, argument in enumerate(command[:-1])
        if argument == "-c"
    )
    mounts = _compose_mounts(postgres)
    files_mounted = all(
        any(
            _is_under(settings.get(name, ""), target) or settings.get(name) == target
            for _source, target, _ro in mounts
        )
        for name in ("ssl_cert_file", "ssl_key_file", "hba_file")
    )
    report.check(
        settings.get("ssl") == "on" and files_mounted,
        "compose: postgres serves TLS (ssl=on, certificate, key and hba_file mounted)",
        f"compose: postgres settings {settings} lack ssl=on, or a certificate, key or hba_file of its volumes",
    )
    hba_target = settings.get("hba_file", "")
    hba_source = next((source for source, target, _ro in mounts if target == hba_target), None)
    if not report.check(
        hba_source is not None and hba_source.startswith("."),
        f"compose: postgres pg_hba.conf comes from the repository ({hba_source})",
        f"compose: postgres hba_file {hba_target!r} is not a file mounted from the repository",
    ):
        return
    assert hba_source is not None
    problems = hba_problems((root / hba_source).read_text())
    report.check(
        not problems,
        f"compose: {hba_source} admits TCP connections over TLS with a password only",
        f"compose: {hba_source}: {'; '.join(problems)}",
    )


def hba_problems(text: str) -> list[str]:
    """What lets a TCP client in without TLS or without a password."""
    problems = []
    refused_plaintext = False
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        kind, method = fields[0], fields[-1]
        if kind == "local":
            continue
        if kind == "hostnossl" and method == "reject":
            refused_plaintext = True
            continue
        if kind in ("host", "hostnossl", "hostgssenc", "hostnogssenc") and not refused_plaintext:
            problems.append(f"line {number} admits TCP without requiring TLS ({kind})")
        if method in ("trust", "password", "md5", "ident"):
            problems.append(f"line {number} authenticates TCP clients by {method}")
    if not refused_plaintext:
        problems.append("no `hostnossl all all all reject` line")
    return problems


def check_nats_security(
    report: Report, where: str, config: str, config_path: str, mounts: dict[str, str]
) -> None:
    """The NATS config requires TLS and admits only the generated users: a tls
    block whose files are mounted, an included accounts file that is mounted,
    no anonymous user."""
    tls = re.search(r"^tls\s*\{([^}]*)\}", config, re.M)
    files = dict(re.findall(r"^\s*(cert_file|key_file|ca_file)\s*:\s*\"?([^\s\"]+)\"?", tls.group(1), re.M)) if tls else {}
    unmounted = [path for path in files.values() if not any(_is_under(path, target) for target in mounts)]
    report.check(
        tls is not None and {"cert_file", "key_file"} <= set(files) and not unmounted,
        f"{where}: NATS clients must speak TLS (certificate and key mounted)",
        f"{where}: the NATS config has no top-level tls block with a mounted cert_file and key_file "
        f"({files or 'none'}; unmounted {unmounted})",
    )
    includes = re.findall(r"^\s*include\s+\"?([^\s\"]+)\"?", config, re.M)
    base = str(Path(config_path).parent) if config_path else ""
    resolved = [str(Path(base, include).resolve()) if base else include for include in includes]
    mounted = [path for path in resolved if any(_is_under(path, target) for target in mounts)]
    report.check(
        bool(mounted) or re.search(r"^accounts\s*\{", config, re.M) is not None,
        f"{where}: NATS users come from the generated accounts ({', '.join(mounted) or 'inline'})",
        f"{where}: the NATS config includes no mounted accounts file and defines no accounts: "
        "every client would be anonymous",
    )
    report.check(
        re.search(r"^\s*no_auth_user\s*:", config, re.M) is None,
        f"{where}: NATS admits no anonymous client (no no_auth_user)",
        f"{where}: the NATS config sets no_auth_user: clients without credentials get that user's permissions",
    )


def check_nats_config_with_server(
    report: Report,
    label: str,
    nats_server: str,
    config: str,
    config_path: str,
    mounts: dict[str, str],
    fixtures: Path,
    environment: dict[str, str] | None = None,
) -> None:
    """`nats-server -t` on a config whose mounted files (certificate, key,
    authority, accounts) are stood in for by the fixtures: the files of the
    compose NATS volume that scripts/check-deploy generated."""
    stand_ins = {
        "cert": fixtures / "nats.pem",
        "key": fixtures / "nats-key.pem",
        "ca": fixtures / "ca.pem",
        "accounts": fixtures / "accounts.conf",
    }
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        text = config
        for target in sorted(mounts, key=len, reverse=True):
            if not target.startswith("/"):
                continue
            text = text.replace(target.rstrip("/") + "/", str(root) + target.rstrip("/") + "/")
        for line in re.findall(r"(?:cert_file|key_file|ca_file)\s*:\s*\"?([^\s\"]+)\"?", text):
            path = Path(line)
            if path.is_relative_to(root):
                name = path.name
                kind = "key" if "key" in name else "ca" if name.startswith("ca") else "cert"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(stand_ins[kind].read_bytes())
        # Absolute data and pid paths stay inside the temporary root too.
        text = re.sub(r"(store_dir|pid_file)\s*:\s*\"?(/[^\s\"]+)\"?", lambda m: f"{m.group(1)}: \"{root}{m.group(2)}\"", text)
        config_file = root / config_path.lstrip("/")
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(text)
        for include in re.findall(r"^\s*include\s+\"?([^\s\"]+)\"?", text, re.M):
            included = (config_file.parent / include).resolve()
            included.parent.mkdir(parents=True, exist_ok=True)
            included.write_bytes(stand_ins["accounts"].read_bytes())
        result = subprocess.run(
            [nats_server, "-t", "-c", str(config_file)],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", **(environment or {})},
        )
    report.check(
        result.returncode == 0,
        f"{label}: accepted with the generated users and certificates",
        f"{label}: rejected: {(result.stdout + result.stderr).strip()}",
    )


def _check_compose_files(
    report: Report, service: ServiceSpec, definition: dict[str, Any], configured: dict[str, str]
) -> None:
    """Every *_FILE variable names a path inside one of the service's volumes."""
    targets = []
    for volume in definition.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            targets.append(parts[1] if len(parts) > 1 else parts[0])
        else:
            targets.append(str(volume.get("target", "")))
    for name, value in sorted(configured.items()):
        if not FILE_VARIABLE.match(name) or not value:
            continue
        inside = [target for target in targets if target and _is_under(value, target)]
        report.check(
            bool(inside),
            f"compose: {service.name} {name} {value} is in its volume {inside[0] if inside else ''}",
            f"compose: {service.name} {name} {value} is in none of its volumes {targets}",
        )


def _is_under(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") + "/"
    return path.startswith(directory) and len(path) > len(directory)


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


POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec_of(document: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec a workload runs, or None for other kinds."""
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif document.get("kind") not in POD_TEMPLATE_KINDS:
        return None
    return (spec.get("template") or {}).get("spec")


def secret_references(pod_spec: dict[str, Any]) -> set[tuple[str, str | None]]:
    """(secret, key) for every key the pod mounts or reads; key None when the
    whole secret is used (a volume without items, envFrom)."""
    references: set[tuple[str, str | None]] = set()

    def add(name: str, items: list[dict[str, Any]] | None) -> None:
        if items:
            references.update((name, item["key"]) for item in items)
        else:
            references.add((name, None))

    for volume in pod_spec.get("volumes") or []:
        if "secret" in volume:
            add(volume["secret"].get("secretName", ""), volume["secret"].get("items"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                add(source["secret"].get("name", ""), source["secret"].get("items"))
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if reference:
                references.add((reference["name"], reference["key"]))
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                references.add((source["secretRef"]["name"], None))
    return references


def mounted_file(
    pod_spec: dict[str, Any], container: dict[str, Any], path: str
) -> tuple[str | None, str | None]:
    """(secret, key) behind a file path in the container, (None, problem) when
    the path is not a file of a mounted secret."""
    volumes = {volume.get("name"): volume for volume in pod_spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        directory = mount.get("mountPath", "")
        if not _is_under(path, directory):
            continue
        relative = path[len(directory.rstrip("/")) + 1 :]
        if mount.get("subPath"):
            return None, f"{directory} is a subPath mount, which never sees a rotated secret"
        secret = (volumes.get(mount.get("name")) or {}).get("secret")
        if secret is None:
            return None, f"{directory} is not a Secret volume"
        items = secret.get("items")
        if items is None:
            return secret.get("secretName"), relative
        for item in items:
            if item.get("path") == relative:
                return secret.get("secretName"), item.get("key")
        return None, f"secret {secret.get('secretName')} mounted at {directory} has no item at {relative}"
    return None, "no volume is mounted there"


def check_file_variables(
    report: Report,
    where: str,
    pod_spec: dict[str, Any],
    container: dict[str, Any],
    values: dict[str, str],
) -> dict[str, tuple[str, str]]:
    """Every *_FILE variable names a file of a mounted Secret; returns
    variable -> (secret, key) for those that do."""
    resolved: dict[str, tuple[str, str]] = {}
    for name, value in sorted(values.items()):
        if not FILE_VARIABLE.match(name) or not value:
            continue
        secret, detail = mounted_file(pod_spec, container, value)
        if report.check(
            secret is not None,
            f"{where}: {name} is key {detail} of the mounted secret {secret}",
            f"{where}: {name}={value} is not a file of a mounted secret: {detail}",
        ):
            assert secret is not None and detail is not None
            resolved[name] = (secret, detail)
    return resolved


def check_dedicated_secrets(
    report: Report, overlay: str, documents: list[dict[str, Any]], file_variables: dict[str, dict[str, tuple[str, str]]]
) -> None:
    """A dedicated secret is used by its service's Deployment only, through its variable."""
    where = f"k8s {overlay}"
    for secret, (service, variable) in sorted(DEDICATED_SECRETS.items()):
        owner = f"flatgov-{service}"
        users = sorted(
            f"{document['kind']} {document['metadata']['name']}"
            for document in documents
            if (pod := pod_spec_of(document)) is not None
            and any(name == secret for name, _key in secret_references(pod))
        )
        report.check(
            users == [f"Deployment {owner}"],
            f"{where}: secret {secret} is used by Deployment {owner} only",
            f"{where}: secret {secret} must be used by Deployment {owner} only, is used by {users or 'nothing'}",
        )
        pointed = file_variables.get(service, {}).get(variable)
        report.check(
            pointed is not None and pointed[0] == secret,
            f"{where}: {service} {variable} is the mounted secret {secret}",
            f"{where}: {service} {variable} points at {pointed or 'no mounted secret'}, expected a file of {secret}",
        )


def check_rollout_secrets(report: Report, overlay: str, documents: list[dict[str, Any]], listed: str) -> None:
    """deploy/k8s/rollout checks, before starting pods, exactly the secrets and
    keys the rendered pods use (its --list-secrets output against the YAML)."""
    expected = set()
    for document in documents:
        pod = pod_spec_of(document)
        if pod is not None:
            expected |= secret_references(pod)
    found: set[tuple[str, str | None]] = set()
    for line in listed.splitlines():
        parts = line.split()
        if parts:
            found.add((parts[0], parts[1] if len(parts) > 1 else None))

    def show(pairs: set[tuple[str, str | None]]) -> str:
        return ", ".join(f"{name}/{key}" if key else name for name, key in sorted(pairs, key=str))

    report.check(
        found == expected,
        f"k8s {overlay}: deploy/k8s/rollout checks the {len(expected)} secret keys the pods use",
        f"k8s {overlay}: deploy/k8s/rollout --list-secrets misses [{show(expected - found)}] "
        f"and lists unused [{show(found - expected)}]",
    )


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


COMPOSED = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def composition_parts(values: dict[str, str]) -> set[str]:
    """Variables other variables are composed of (`$(NAME)`): helpers of the
    manifest, such as the secret URI a DATABASE_URL is built on, not settings
    the code reads."""
    return {name for value in values.values() for name in COMPOSED.findall(value)}


def check_database_url(
    report: Report,
    where: str,
    variable: str,
    values: dict[str, str],
    secrets: dict[str, dict[str, str]],
    pod_spec: dict[str, Any],
    container: dict[str, Any],
) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """A database URL is a secret's plain URI with the TLS parameters added by
    the manifest: `$(SECRET_URI)?sslmode=verify-full&sslrootcert=<file of a
    mounted secret>`. Returns ((secret, key) of the URI, (secret, key) of the
    authority), each None when not found."""
    value = values.get(variable)
    match = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)\?(.*)", value or "")
    reference = secrets.get(match.group(1)) if match else None
    if not report.check(
        reference is not None,
        f"{where}: {variable} is built on a Secret's URI ({match.group(1) if match else ''})",
        f"{where}: {variable} must be `$(<variable from a secretKeyRef>)?sslmode=verify-full&sslrootcert=<file>`, "
        f"is {value!r}" + (" (a secretKeyRef, whose TLS settings cannot be seen)" if variable in secrets else ""),
    ):
        return None, None
    assert match is not None and reference is not None
    parameters = dict(part.partition("=")[::2] for part in match.group(2).split("&") if part)
    root = parameters.get("sslrootcert", "")
    authority, detail = mounted_file(pod_spec, container, root) if root else (None, "no sslrootcert")
    report.check(
        parameters.get("sslmode") == "verify-full" and authority is not None,
        f"{where}: {variable} verifies the server (sslmode=verify-full, sslrootcert from secret {authority})",
        f"{where}: {variable} must say sslmode=verify-full and sslrootcert=<file of a mounted secret>: "
        f"{parameters} ({detail})",
    )
    return (reference["name"], reference["key"]), ((authority, detail) if authority and detail else None)


def check_pod_secrets(
    report: Report, where: str, service: ServiceSpec, pod_spec: dict[str, Any], shared: dict[str, str]
) -> None:
    """A service's pod uses its own secrets (`flatgov-<svc>-*`) and the shared
    public ones only: never another service's key, seed or certificate, the
    authority's key, or a people key."""
    uses = secret_references(pod_spec)
    foreign = sorted(
        {name for name, _key in uses if not name.startswith(f"{service.binary}-") and name not in shared}
    )
    report.check(
        not foreign,
        f"{where} uses only its own secrets and {', '.join(sorted(shared)) or 'no shared one'}",
        f"{where} uses secrets {foreign}, which are neither its own ({service.binary}-*) nor shared "
        f"({', '.join(sorted(shared))})",
    )
    people = sorted(f"{name}/{key}" for name, key in uses if "people" in name or "people" in (key or ""))
    report.check(
        not people,
        f"{where} holds no people key",
        f"{where} mounts {people}: no pod may hold the people key (people's tokens come from the OIDC provider)",
    )


def certificate_for_secret(index: dict[tuple[str, str], dict[str, Any]], secret: str) -> dict[str, Any] | None:
    for (kind, _name), document in index.items():
        if kind == "Certificate" and (document.get("spec") or {}).get("secretName") == secret:
            return document
    return None


def check_kubernetes_tls(
    report: Report,
    where: str,
    service: ServiceSpec,
    values: dict[str, str],
    files: dict[str, tuple[str, str]],
    index: dict[tuple[str, str], dict[str, Any]],
    calls: set[str],
) -> None:
    """The gRPC certificate is cert-manager's, names the Service and localhost
    (the exec probe dials https://localhost), and serves as a client
    certificate towards the services it calls; the authorities come from it."""
    cert = files.get("GRPC_TLS_CERT_FILE")
    key = files.get("GRPC_TLS_KEY_FILE")
    certificate = certificate_for_secret(index, cert[0]) if cert else None
    spec = (certificate or {}).get("spec") or {}
    names = set(spec.get("dnsNames") or [])
    usages = set(spec.get("usages") or [])
    report.check(
        certificate is not None
        and key is not None
        and key[0] == cert[0]
        and (cert[1], key[1]) == ("tls.crt", "tls.key"),
        f"{where}: {service.name} serves gRPC with cert-manager's certificate {cert[0] if cert else ''}",
        f"{where}: {service.name} GRPC_TLS_CERT_FILE/GRPC_TLS_KEY_FILE are {cert}/{key}: expected tls.crt and tls.key "
        "of a secret a cert-manager Certificate issues",
    )
    report.check(
        {service.name, "localhost"} <= names and "server auth" in usages and (not calls or "client auth" in usages),
        f"{where}: {service.name}'s certificate names {service.name} and localhost"
        + (" and may be presented as a client" if calls else ""),
        f"{where}: {service.name}'s certificate names {sorted(names)} with usages {sorted(usages)}: it must name "
        f"{service.name} (what clients dial) and localhost (the health-check probe), for server auth"
        + (" and client auth" if calls else ""),
    )
    for name in ("GRPC_TLS_CA_FILE", "NATS_TLS_CA_FILE"):
        authority = files.get(name)
        report.check(
            authority is not None and authority[1] == "ca.crt" and certificate_for_secret(index, authority[0]) is not None,
            f"{where}: {service.name} {name} is the authority (ca.crt) of a cert-manager secret",
            f"{where}: {service.name} {name} is {authority}, expected ca.crt of a cert-manager certificate's secret",
        )


def check_cert_manager(
    report: Report, overlay: str, documents: list[dict[str, Any]], index: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """Every Certificate's issuer is in the output, a CA issuer's secret is a
    CA certificate, and the overlay put its namespace into the names."""
    where = f"k8s {overlay}"
    for document in documents:
        if document.get("kind") != "Certificate":
            continue
        name = document["metadata"]["name"]
        spec = document.get("spec") or {}
        reference = spec.get("issuerRef") or {}
        issuer = index.get((reference.get("kind", "Issuer"), reference.get("name", "")))
        report.check(
            issuer is not None,
            f"{where}: Certificate {name} is issued by {reference.get('kind', 'Issuer')} {reference.get('name')}",
            f"{where}: Certificate {name} names issuer {reference}, which is not in the output",
        )
        leftovers = [dns for dns in spec.get("dnsNames") or [] if ".namespace.svc" in dns]
        report.check(
            not leftovers,
            f"{where}: Certificate {name} names the overlay's namespace",
            f"{where}: Certificate {name} still names {leftovers}: the overlay's replacement of `namespace` is missing",
        )
    for (kind, name), document in index.items():
        if kind != "Issuer" or "ca" not in (document.get("spec") or {}):
            continue
        secret = document["spec"]["ca"].get("secretName", "")
        certificate = certificate_for_secret(index, secret)
        report.check(
            certificate is not None and (certificate.get("spec") or {}).get("isCA") is True,
            f"{where}: Issuer {name} signs with the CA certificate {secret}",
            f"{where}: Issuer {name} uses secret {secret}, which no CA Certificate (isCA) issues",
        )


def check_kubernetes_overlay(
    report: Report,
    overlay: str,
    documents: list[dict[str, Any]],
    services: dict[str, ServiceSpec],
    facts: dict[str, CodeFacts],
    nats_version: str | None,
    nats_server: str | None,
    tls_fixtures: Path | None = None,
) -> None:
    index = index_by_kind(documents)
    production = overlay == "production"
    file_variables: dict[str, dict[str, tuple[str, str]]] = {}

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
        # The kubelet's native gRPC probe speaks no TLS: the probes run the
        # binary's health check, which dials https://localhost:<port>.
        probes = {kind: container.get(kind) or {} for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
        # Startup and liveness ask only whether the process answers (`--live`):
        # a dependency being away must never restart the pod (start-up waits
        # for PostgreSQL answering NOT_SERVING; readiness keeps it out).
        expected_probes = {
            "startupProbe": [service.binary, "health-check", "--live"],
            "readinessProbe": [service.binary, "health-check"],
            "livenessProbe": [service.binary, "health-check", "--live"],
        }
        bad_probes = [
            kind for kind, probe in probes.items() if (probe.get("exec") or {}).get("command") != expected_probes[kind]
        ]
        report.check(
            not bad_probes,
            f"{where}: {service.name} readiness runs `{service.binary} health-check`, startup and liveness "
            f"`{service.binary} health-check --live` (over TLS)",
            f"{where}: {service.name} {', '.join(bad_probes)} not an exec probe running `{service.binary} health-check` "
            "(`--live` for startup and liveness; a native gRPC probe cannot speak TLS)",
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
        parts = composition_parts(values)
        configured = {
            name: value
            for name, value in {**values, **{name: "(secret)" for name in secrets}}.items()
            if name not in parts
        }
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
        database_secret, database_ca = check_database_url(
            report, f"{where}: {service.name}", "DATABASE_URL", values, secrets, pod_spec, container
        )
        expected_calls = called_services(service, services, facts[service.name], values)
        check_variables(report, where, service, facts[service.name], configured, expected_calls)
        file_variables[service.name] = resolved = check_file_variables(
            report, f"{where}: {service.name}", pod_spec, container, values
        )
        _check_transport(report, where, service, configured)
        check_pod_secrets(report, f"{where}: Deployment {service.binary}", service, pod_spec, SHARED_SECRETS)
        check_kubernetes_tls(report, where, service, values, resolved, index, expected_calls)
        report.check(
            values.get("NATS_URL") == "tls://nats:4222",
            f"{where}: {service.name} reaches NATS over TLS (tls://nats:4222)",
            f"{where}: {service.name} NATS_URL is {values.get('NATS_URL')!r}, expected tls://nats:4222",
        )
        for target in sorted(expected_calls):
            variable = f"{target.upper()}_URL"
            expected = f"https://{target}:{services[target].grpc_port}"
            report.check(
                values.get(variable) == expected,
                f"{where}: {service.name} calls {target} at {expected}",
                f"{where}: {service.name} {variable} is {values.get(variable)!r}, expected {expected}",
            )
        if production:
            issuer = values.get("AUTH_OIDC_ISSUER", "")
            report.check(
                issuer.startswith("https://"),
                f"{where}: {service.name} takes people's tokens from the OpenID Connect provider {issuer}",
                f"{where}: {service.name} AUTH_OIDC_ISSUER is {issuer!r}: production takes people's tokens from an "
                "OpenID Connect provider (https://), never from a people key in the cluster",
            )

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
            job_pod = job["spec"]["template"]["spec"]
            owner_secret, _ = check_database_url(
                report, f"{where}: Job {job_name}", "DATABASE_OWNER_URL", job_values, job_secrets, job_pod, job_container
            )
            job_database_secret, _ = check_database_url(
                report, f"{where}: Job {job_name}", "DATABASE_URL", job_values, job_secrets, job_pod, job_container
            )
            report.check(
                job_database_secret is not None and job_database_secret == database_secret,
                f"{where}: Job {job_name} grants to the role the Deployment runs as",
                f"{where}: Job {job_name} DATABASE_URL comes from {job_database_secret}, the Deployment's from "
                f"{database_secret}: the grants would go to another role",
            )
            report.check(
                owner_secret is not None and owner_secret != database_secret,
                f"{where}: Job {job_name} migrates as the owner ({owner_secret}), not the application role",
                f"{where}: Job {job_name} DATABASE_OWNER_URL comes from {owner_secret}: it must be the owner's secret, "
                "another than the application role's",
            )
            check_pod_security(report, f"{where}: Job {job_name}", job_pod, job_container)
            check_file_variables(report, f"{where}: Job {job_name}", job_pod, job_container, job_values)
            # The migration holds the owner's credentials and nothing else: no
            # key, seed or certificate of the service.
            job_uses = sorted({name for name, _key in secret_references(job_pod)})
            report.check(
                all(name.startswith(f"{service.binary}-db-") for name in job_uses),
                f"{where}: Job {job_name} uses only its database's secrets ({', '.join(job_uses)})",
                f"{where}: Job {job_name} uses secrets {job_uses}; a migration needs only {service.binary}-db-*",
            )
            if production:
                cluster_name = f"{service.binary}-db"
                report.check(
                    owner_secret == (f"{cluster_name}-app", "uri"),
                    f"{where}: Job {job_name} DATABASE_OWNER_URL is the owner CloudNativePG bootstraps ({cluster_name}-app)",
                    f"{where}: Job {job_name} DATABASE_OWNER_URL comes from {owner_secret}, expected {cluster_name}-app/uri",
                )

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
        reaches_dns = reaches_nats = reaches_database = reaches_provider = False
        unexpected = []
        for peer, rule_ports in egress_targets(policies):
            peer_labels = ((peer or {}).get("podSelector") or {}).get("matchLabels") or {}
            name = peer_labels.get("app.kubernetes.io/name", "")
            if rule_ports == {53}:
                reaches_dns = True
            elif name == "nats" and rule_ports == {4222}:
                reaches_nats = True
            elif rule_ports == {443} and values.get("AUTH_OIDC_ISSUER", "").startswith("https://"):
                # The OpenID Connect provider's discovery document and keys.
                reaches_provider = True
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
        if values.get("AUTH_OIDC_ISSUER"):
            report.check(
                reaches_provider,
                f"{where}: {service.name} may reach the OpenID Connect provider (HTTPS, 443)",
                f"{where}: {service.name} sets AUTH_OIDC_ISSUER but no NetworkPolicy lets it reach TCP 443",
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
            roles = {
                role.get("name"): role
                for role in (((cluster or {}).get("spec", {}).get("managed") or {}).get("roles") or [])
            }
            application = roles.get(f"{service.database}_app") or {}
            runtime_secret = (application.get("passwordSecret") or {}).get("name")
            report.check(
                application.get("login") is True
                and application.get("ensure", "present") == "present"
                and not application.get("superuser")
                and runtime_secret is not None
                and database_secret == (runtime_secret, "uri"),
                f"{where}: {service.name} runs as {service.database}_app, a role {cluster_name} manages with the "
                f"password of {runtime_secret}",
                f"{where}: {service.name} DATABASE_URL comes from {database_secret}; expected the `uri` of the secret "
                f"whose password Cluster {cluster_name} gives its managed login role {service.database}_app "
                f"(found {runtime_secret})",
            )
            report.check(
                database_ca == (f"{cluster_name}-ca", "ca.crt"),
                f"{where}: {service.name} verifies its database against CloudNativePG's authority {cluster_name}-ca",
                f"{where}: {service.name} sslrootcert is {database_ca}, expected {cluster_name}-ca/ca.crt",
            )

    check_gateway_kubernetes(report, overlay, documents, index, services, facts.get(GATEWAY.name))
    if production:
        check_database_recovery(report, overlay, documents, services)
    check_dedicated_secrets(report, overlay, documents, file_variables)
    check_cert_manager(report, overlay, documents, index)
    check_kubernetes_nats(report, overlay, index, production, nats_version, nats_server, tls_fixtures)


# Where CloudNativePG's barman-cloud can archive to (barman-cloud's
# destinationPath: S3, Google Cloud Storage, Azure Blob Storage over HTTPS).
OBJECT_STORE_URL = re.compile(r"^(s3|gs|https)://[^/]+")
# CloudNativePG's retention policy: a recovery window in days, weeks or months.
RETENTION_POLICY = re.compile(r"^[1-9][0-9]*[dwm]$")


def check_database_recovery(
    report: Report,
    overlay: str,
    documents: list[dict[str, Any]],
    services: dict[str, ServiceSpec],
) -> None:
    """Every service's database cluster (the gateway's too) can lose neither a
    committed transaction to a failover nor its history to a bad change:
    synchronous replication, WAL archived to an object store under a retention
    policy, and a ScheduledBackup for the base backups."""
    where = f"k8s {overlay}"
    cnpg = [document for document in documents if document.get("apiVersion", "").startswith("postgresql.cnpg.io/")]
    clusters = {document["metadata"]["name"]: document for document in cnpg if document.get("kind") == "Cluster"}
    schedules = [document for document in cnpg if document.get("kind") == "ScheduledBackup"]
    archives: dict[str, list[str]] = {}
    for name in [*services, GATEWAY.name]:
        cluster_name = f"flatgov-{name}-db"
        cluster = clusters.get(cluster_name)
        if cluster is None:
            # Its absence is reported with the service's own checks.
            continue
        spec = cluster.get("spec") or {}
        instances = spec.get("instances") or 0

        synchronous = (spec.get("postgresql") or {}).get("synchronous") or {}
        number = synchronous.get("number")
        durability = synchronous.get("dataDurability", "required")
        report.check(
            synchronous.get("method") in ("any", "first")
            and isinstance(number, int)
            and number >= 1
            and instances >= number + 1
            and durability == "required",
            f"{where}: Cluster {cluster_name} commits only once {number} of its {instances - 1} standbys has the WAL "
            f"(synchronous {synchronous.get('method')} {number}, dataDurability {durability})",
            f"{where}: Cluster {cluster_name} does not replicate synchronously: postgresql.synchronous is "
            f"{synchronous or 'unset'} with {instances} instances; expected method any or first, number >= 1 and "
            "<= instances - 1, dataDurability required (`preferred` acknowledges commits no standby has)",
        )

        backup = spec.get("backup") or {}
        store = backup.get("barmanObjectStore") or {}
        destination = store.get("destinationPath", "")
        retention = backup.get("retentionPolicy", "")
        credentials = store.get("s3Credentials") or {}
        s3_credentials = all(
            (credentials.get(part) or {}).get("name") and (credentials.get(part) or {}).get("key")
            for part in ("accessKeyId", "secretAccessKey")
        ) or credentials.get("inheritFromIAMRole") is True
        report.check(
            bool(OBJECT_STORE_URL.match(destination))
            and (not destination.startswith("s3://") or s3_credentials)
            and bool(RETENTION_POLICY.match(retention)),
            f"{where}: Cluster {cluster_name} archives its WAL to {destination} (retention {retention})",
            f"{where}: Cluster {cluster_name} does not archive its WAL to an object store with a retention policy: "
            f"backup.barmanObjectStore.destinationPath {destination or 'unset'}, s3Credentials "
            f"{'complete' if s3_credentials else 'incomplete'}, backup.retentionPolicy {retention or 'unset'} "
            "(expected e.g. 30d)",
        )
        if destination:
            # barman-cloud keeps a server's WAL and base backups under
            # <destinationPath>/<serverName, by default the cluster's name>.
            folder = f"{destination.rstrip('/')}/{store.get('serverName') or cluster_name}"
            archives.setdefault(folder, []).append(cluster_name)

        scheduled = [
            schedule
            for schedule in schedules
            if ((schedule.get("spec") or {}).get("cluster") or {}).get("name") == cluster_name
            and not (schedule.get("spec") or {}).get("suspend")
            and (schedule.get("spec") or {}).get("method", "barmanObjectStore") == "barmanObjectStore"
        ]
        report.check(
            bool(scheduled),
            f"{where}: ScheduledBackup {', '.join(s['metadata']['name'] for s in scheduled)} takes base backups of "
            f"Cluster {cluster_name} ({', '.join(s['spec'].get('schedule', '?') for s in scheduled)})",
            f"{where}: no ScheduledBackup takes base backups of Cluster {cluster_name} to its object store (one naming "
            "it in spec.cluster.name, not suspended, method barmanObjectStore): without a base backup the archived "
            "WAL restores nothing",
        )

    shared = {folder: names for folder, names in archives.items() if len(names) > 1}
    report.check(
        not shared,
        f"{where}: every database cluster archives to a folder of its own",
        f"{where}: database clusters share an archive folder (CloudNativePG refuses to archive into one that is "
        f"not empty): {shared}",
    )


def check_kubernetes_nats(
    report: Report,
    overlay: str,
    index: dict[tuple[str, str], dict[str, Any]],
    production: bool,
    nats_version: str | None,
    nats_server: str | None,
    tls_fixtures: Path | None = None,
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
    # Where the container sees its files: mount path -> Secret/ConfigMap name.
    pod_spec = statefulset["spec"]["template"]["spec"]
    volumes = {volume.get("name"): volume for volume in pod_spec.get("volumes") or []}
    mounts: dict[str, str] = {}
    config_path = ""
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        source = (volume.get("secret") or {}).get("secretName") or (volume.get("configMap") or {}).get("name") or ""
        mounts[mount.get("mountPath", "")] = source
        if (volume.get("configMap") or {}).get("name") == config_maps[0]["metadata"]["name"]:
            config_path = mount.get("mountPath", "").rstrip("/") + "/nats.conf"
    report.check(
        container.get("command", [])[-1:] == [config_path],
        f"{where}: NATS runs with the mounted config {config_path}",
        f"{where}: NATS command {container.get('command')} does not name the mounted config {config_path}",
    )
    check_nats_security(report, where, config, config_path, {path: source for path, source in mounts.items() if source})
    cluster = re.search(r"^cluster\s*\{(.*?)^\}", config, re.M | re.S)
    cluster_tls = re.search(r"tls\s*\{([^}]*)\}", cluster.group(1)) if cluster else None
    report.check(
        cluster_tls is not None and re.search(r"^\s*verify\s*:\s*true", cluster_tls.group(1), re.M) is not None,
        f"{where}: NATS routes run over TLS, each server verifying the other's certificate",
        f"{where}: the NATS cluster block has no tls block with `verify: true`",
    )
    tls_secrets = sorted({source for path, source in mounts.items() if certificate_for_secret(index, source)})
    certificate = certificate_for_secret(index, tls_secrets[0]) if tls_secrets else None
    names = set(((certificate or {}).get("spec") or {}).get("dnsNames") or [])
    report.check(
        {"nats", "*.nats-headless"} <= names,
        f"{where}: NATS' certificate ({tls_secrets}) names nats (clients) and *.nats-headless (routes)",
        f"{where}: NATS' certificate {tls_secrets} names {sorted(names)}: it must name nats and *.nats-headless",
    )
    if nats_server and tls_fixtures:
        check_nats_config_with_server(
            report, f"{where}: nats-server -t the rendered nats.conf", nats_server, config, config_path,
            {path: source for path, source in mounts.items() if source}, tls_fixtures, {"SERVER_NAME": "nats-0"},
        )
    elif nats_server:
        report.warn(f"{where}: nats-server -t skipped: no --tls-fixtures to stand in for the mounted certificate and users")
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
# The HTTP gateway
# ---------------------------------------------------------------------------
# Not a gRPC service (no gRPC or metrics port, no events of its own), so
# deploy/services.tsv does not list it; NATS only as the read-only user of the
# command centre's live updates; it has its own checks, in the spirit
# of the services': its own database as the application role over
# verify-full, a migration one-shot or Job that alone holds the owner's
# password, its own certificate and signing key, HTTPS on GATEWAY_PORT, the
# services at their https:// URLs, nothing it does not need.

GATEWAY = ServiceSpec("gateway", 0, 0, "flatgov_gateway")
GATEWAY_PORT = 8080
# Set in the gateway's container for the `flatgov open311 clients` CLI run
# there (a clap `env`), not read by the gateway itself.
GATEWAY_CLI_VARIABLES = {"GATEWAY_DATABASE_URL"}
# NATS settings the gateway must never be given: it keeps no events and
# creates no stream (the command centre's live updates are a plain
# subscription as its own read-only user), and test isolation is for tests.
GATEWAY_FORBIDDEN_NATS = (
    "NATS_SUBJECT_PREFIX",
    "NATS_STREAM_REPLICAS",
    "NATS_TLS_CLIENT_CERT_FILE",
    "NATS_TLS_CLIENT_KEY_FILE",
)
# With live updates, all three: the cluster's NATS over TLS as its own user.
GATEWAY_LIVE_NATS = ("NATS_URL", "NATS_TLS_CA_FILE", "NATS_CREDENTIALS_FILE")
NATS_PORT = 4222
# What it cannot start without. (The crates it shares with the services read
# more, NATS_URL for one, on paths the gateway never takes, so the code's
# `required` reads alone do not say.)
GATEWAY_REQUIRED = ("DATABASE_URL", "AUTH_SIGNING_KEY_FILE", "OPEN311_JURISDICTION_ID")


def _check_gateway_variables(
    report: Report, where: str, facts: CodeFacts | None, configured: dict[str, str]
) -> None:
    if facts is not None and facts.variables:
        unknown = sorted(set(configured) - set(facts.variables) - GATEWAY_CLI_VARIABLES)
        report.check(
            not unknown,
            f"{where} sets only variables its code reads",
            f"{where} sets {unknown}, which flatgov-gateway never reads",
        )
    required = sorted(name for name in GATEWAY_REQUIRED if not configured.get(name))
    report.check(
        not required,
        f"{where} sets every variable its code requires",
        f"{where} does not set {required}, which flatgov-gateway requires",
    )
    forbidden = sorted(name for name in configured if name in GATEWAY_FORBIDDEN_NATS)
    report.check(
        not forbidden,
        f"{where} has no NATS stream, client-certificate or test settings (it keeps no events)",
        f"{where} sets {forbidden}: the gateway only reads case events as its own user",
    )
    live = [name for name in GATEWAY_LIVE_NATS if configured.get(name)]
    if live:
        report.check(
            len(live) == len(GATEWAY_LIVE_NATS) and configured.get("NATS_URL") == "tls://nats:4222",
            f"{where} reads live case events from tls://nats:4222 as its own user",
            f"{where} sets {live} (NATS_URL {configured.get('NATS_URL')!r}): live updates need "
            f"{', '.join(GATEWAY_LIVE_NATS)} with NATS_URL tls://nats:4222",
        )


# The provider settings the gateway must share with the services: a token
# the services accept is one the command centre accepts, and the reverse.
OIDC_SHARED = (
    "AUTH_OIDC_ISSUER",
    "AUTH_OIDC_AUDIENCE",
    "AUTH_OIDC_SUBJECT_CLAIM",
    "AUTH_OIDC_ROLES_CLAIM",
    "AUTH_OIDC_ORG_CLAIM",
    "AUTH_OIDC_JURISDICTION_CLAIM",
    "AUTH_OIDC_ROLE_MAP",
    "AUTH_OIDC_JWKS_URL",
    "AUTH_OIDC_JWKS_FILE",
)
LOGIN_CALLBACK_PATH = "/command/oidc/callback"


def _check_gateway_login(
    report: Report, where: str, documents: list[dict[str, Any]], values: dict[str, str], production: bool
) -> None:
    """The command centre's login through the OpenID Connect provider."""
    common = next(
        (
            document.get("data") or {}
            for document in documents
            if document.get("kind") == "ConfigMap"
            and (document["metadata"]["name"] == "flatgov-common" or document["metadata"]["name"].startswith("flatgov-common-"))
        ),
        {},
    )
    if common.get("AUTH_OIDC_ISSUER") or values.get("AUTH_OIDC_ISSUER"):
        differing = sorted(name for name in OIDC_SHARED if (common.get(name) or "") != (values.get(name) or ""))
        report.check(
            not differing,
            f"{where} verifies people's tokens with the services' OpenID Connect settings",
            f"{where} {', '.join(differing)} differ from flatgov-common's: the command centre and the services "
            "would accept different people",
        )
    client_id = values.get("COMMAND_OIDC_CLIENT_ID", "")
    redirect = values.get("COMMAND_OIDC_REDIRECT_URL", "")
    if production or client_id:
        report.check(
            bool(client_id)
            and bool(values.get("AUTH_OIDC_ISSUER"))
            and redirect.startswith("https://")
            and redirect.endswith(LOGIN_CALLBACK_PATH),
            f"{where} offers the command centre's login through the provider (client {client_id}, callback {redirect})",
            f"{where} COMMAND_OIDC_CLIENT_ID {client_id!r}, COMMAND_OIDC_REDIRECT_URL {redirect!r}, AUTH_OIDC_ISSUER "
            f"{values.get('AUTH_OIDC_ISSUER')!r}: production logs people in through the provider, with an https:// "
            f"callback ending in {LOGIN_CALLBACK_PATH}",
        )


def check_gateway_compose(
    report: Report,
    compose_services: dict[str, Any],
    services: dict[str, ServiceSpec],
    facts: CodeFacts | None,
    postgres_environment: dict[str, str],
    environment: dict[str, str],
) -> None:
    where = "compose: gateway"
    definition = compose_services.get(GATEWAY.name)
    if not report.check(
        definition is not None,
        "compose: the gateway is defined",
        "compose: no service named gateway (services/gateway must run)",
    ):
        return
    assert definition is not None
    configured = compose_environment(definition, environment)
    report.check(
        definition.get("command") == [GATEWAY.binary],
        f"{where} runs {GATEWAY.binary}",
        f"{where} command is {definition.get('command')!r}",
    )
    published = [_container_port(port) for port in definition.get("ports") or []]
    report.check(
        published == [GATEWAY_PORT] and port_of(configured.get("GATEWAY_LISTEN_ADDR", "")) == GATEWAY_PORT,
        f"{where} listens on and publishes {GATEWAY_PORT} only",
        f"{where} publishes {published} and listens on {configured.get('GATEWAY_LISTEN_ADDR')!r}, expected {GATEWAY_PORT}",
    )
    healthcheck = (definition.get("healthcheck") or {}).get("test")
    report.check(
        healthcheck == ["CMD", GATEWAY.binary, "health-check"],
        f"{where} health check runs `{GATEWAY.binary} health-check`",
        f"{where} health check is {healthcheck!r}",
    )
    depends = definition.get("depends_on") or {}
    conditions = {key: (value or {}).get("condition") for key, value in depends.items()} if isinstance(depends, dict) else {}
    report.check(
        conditions.get("postgres") == "service_healthy"
        and conditions.get(COMPOSE_INIT) == "service_completed_successfully"
        and conditions.get("gateway-migrate") == "service_completed_successfully",
        f"{where} waits for healthy postgres, the {COMPOSE_INIT} one-shot and gateway-migrate",
        f"{where} depends_on conditions are {conditions}",
    )
    report.check(
        definition.get("restart") in ("always", "unless-stopped", "on-failure"),
        f"{where} restarts ({definition.get('restart')})",
        f"{where} has no restart policy",
    )
    report.check(
        configured.get("LOG_FORMAT") == "json" and configured.get("DATABASE_MIGRATE_ON_START") == "false",
        f"{where} logs JSON and does not migrate at start",
        f"{where} LOG_FORMAT {configured.get('LOG_FORMAT')!r}, DATABASE_MIGRATE_ON_START "
        f"{configured.get('DATABASE_MIGRATE_ON_START')!r}: expected json and false",
    )
    mounts = _compose_mounts(definition)
    database_url = configured.get("DATABASE_URL", "")
    _check_compose_database(
        report, where, GATEWAY, database_url, f"{GATEWAY.database}_app", "FLATGOV_GATEWAY_DB_PASSWORD",
        postgres_environment, mounts,
    )
    own_volume = f"flatgov-{GATEWAY.name}"
    named = sorted(source for source, _target, _ro in mounts if source and not source.startswith((".", "/")))
    report.check(
        named == sorted([COMPOSE_TRUST_VOLUME, own_volume]) and all(read_only for _s, _t, read_only in mounts),
        f"{where} mounts {COMPOSE_TRUST_VOLUME} and its own {own_volume}, read-only",
        f"{where} mounts {named} (read-only: {[ro for _s, _t, ro in mounts]}), expected {COMPOSE_TRUST_VOLUME} "
        f"and {own_volume}, read-only",
    )
    own_target = next((target for source, target, _ro in mounts if source == own_volume), None)
    trust_target = next((target for source, target, _ro in mounts if source == COMPOSE_TRUST_VOLUME), None)
    live_files = (
        (("NATS_CREDENTIALS_FILE", own_target), ("NATS_TLS_CA_FILE", trust_target))
        if configured.get("NATS_URL")
        else ()
    )
    if configured.get("NATS_URL"):
        report.check(
            conditions.get("nats") == "service_healthy",
            f"{where} waits for healthy nats (live updates)",
            f"{where} sets NATS_URL but does not wait for healthy nats",
        )
    for variable, target in (
        ("GATEWAY_TLS_CERT_FILE", own_target),
        ("GATEWAY_TLS_KEY_FILE", own_target),
        ("AUTH_SIGNING_KEY_FILE", own_target),
        ("GRPC_TLS_CA_FILE", trust_target),
        *live_files,
    ):
        value = configured.get(variable, "")
        report.check(
            bool(target) and _is_under(value, target or ""),
            f"{where} {variable} is a file of its volume at {target}",
            f"{where} {variable} is {value!r}, not a file under {target}",
        )
    for service in services.values():
        variable = f"{service.name.upper()}_URL"
        expected = f"https://{service.name}:{service.grpc_port}"
        report.check(
            configured.get(variable) == expected,
            f"{where} relays to {service.name} at {expected}",
            f"{where} {variable} is {configured.get(variable)!r}, expected {expected}",
        )
    _check_gateway_variables(report, where, facts, configured)
    _check_compose_migrate(
        report, GATEWAY, compose_services.get(f"{GATEWAY.name}-migrate"), database_url, postgres_environment, environment
    )
    init = compose_services.get(COMPOSE_INIT) or {}
    init_environment = compose_environment(init, {})
    init_volumes = {source for source, _target, _ro in _compose_mounts(init)}
    report.check(
        init_environment.get("FLATGOV_GATEWAY") == GATEWAY.name and own_volume in init_volumes,
        f"compose: {COMPOSE_INIT} gives the gateway its certificate and signing key in {own_volume}",
        f"compose: {COMPOSE_INIT} FLATGOV_GATEWAY is {init_environment.get('FLATGOV_GATEWAY')!r} and mounts "
        f"{sorted(init_volumes)}: expected gateway and {own_volume}",
    )


def check_gateway_kubernetes(
    report: Report,
    overlay: str,
    documents: list[dict[str, Any]],
    index: dict[tuple[str, str], dict[str, Any]],
    services: dict[str, ServiceSpec],
    facts: CodeFacts | None,
) -> None:
    where = f"k8s {overlay}: gateway"
    production = overlay == "production"
    deployment = index.get(("Deployment", GATEWAY.binary))
    if not report.check(
        deployment is not None,
        f"k8s {overlay}: Deployment {GATEWAY.binary} exists",
        f"k8s {overlay}: no Deployment {GATEWAY.binary} (services/gateway must run)",
    ):
        return
    assert deployment is not None
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    container = (pod_spec.get("containers") or [{}])[0]
    report.check(
        container.get("command") == [GATEWAY.binary],
        f"{where} runs {GATEWAY.binary}",
        f"{where} command is {container.get('command')!r}",
    )
    ports = {port.get("name"): port.get("containerPort") for port in container.get("ports") or []}
    report.check(
        ports == {"https": GATEWAY_PORT},
        f"{where} container port https {GATEWAY_PORT}",
        f"{where} container ports are {ports}, expected https {GATEWAY_PORT}",
    )
    probes = {kind: container.get(kind) or {} for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    bad_probes = [
        kind for kind, probe in probes.items() if (probe.get("exec") or {}).get("command") != [GATEWAY.binary, "health-check"]
    ]
    report.check(
        not bad_probes,
        f"{where} startup, readiness and liveness run `{GATEWAY.binary} health-check` (over HTTPS)",
        f"{where} {', '.join(bad_probes)} not an exec probe running `{GATEWAY.binary} health-check`",
    )
    check_pod_security(report, where, pod_spec, container)
    values, secrets, problems = effective_env(container, index)
    for problem in problems:
        report.fail(f"{where}: {problem}")
    parts = composition_parts(values)
    configured = {
        name: value for name, value in {**values, **{name: "(secret)" for name in secrets}}.items() if name not in parts
    }
    report.check(
        values.get("DATABASE_MIGRATE_ON_START") == "false" and values.get("LOG_FORMAT") == "json",
        f"{where} replicas do not migrate at start and log JSON",
        f"{where} DATABASE_MIGRATE_ON_START {values.get('DATABASE_MIGRATE_ON_START')!r}, LOG_FORMAT "
        f"{values.get('LOG_FORMAT')!r}",
    )
    report.check(
        port_of(values.get("GATEWAY_LISTEN_ADDR", "")) == GATEWAY_PORT,
        f"{where} listens on {GATEWAY_PORT}",
        f"{where} GATEWAY_LISTEN_ADDR is {values.get('GATEWAY_LISTEN_ADDR')!r}",
    )
    database_secret, database_ca = check_database_url(
        report, where, "DATABASE_URL", values, secrets, pod_spec, container
    )
    resolved = check_file_variables(report, where, pod_spec, container, values)
    tls_secret = f"{GATEWAY.binary}-tls"
    for variable in ("GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE", "GRPC_TLS_CA_FILE"):
        report.check(
            (resolved.get(variable) or ("", ""))[0] == tls_secret,
            f"{where} {variable} comes from its cert-manager secret {tls_secret}",
            f"{where} {variable} comes from {resolved.get(variable)}, expected {tls_secret}",
        )
    if values.get("NATS_URL"):
        nats_user = f"{GATEWAY.binary}-nats-user"
        report.check(
            (resolved.get("NATS_CREDENTIALS_FILE") or ("", ""))[0] == nats_user
            and (resolved.get("NATS_TLS_CA_FILE") or ("", ""))[0] == tls_secret,
            f"{where} reaches NATS as its own user ({nats_user}), verifying it with {tls_secret}'s authority",
            f"{where} NATS_CREDENTIALS_FILE comes from {resolved.get('NATS_CREDENTIALS_FILE')}, "
            f"NATS_TLS_CA_FILE from {resolved.get('NATS_TLS_CA_FILE')}: expected {nats_user} and {tls_secret}",
        )
    signing = f"{GATEWAY.binary}-signing-key"
    report.check(
        (resolved.get("AUTH_SIGNING_KEY_FILE") or ("", ""))[0] == signing,
        f"{where} signs with its own key ({signing})",
        f"{where} AUTH_SIGNING_KEY_FILE comes from {resolved.get('AUTH_SIGNING_KEY_FILE')}, expected {signing}",
    )
    report.check(
        certificate_for_secret(index, tls_secret) is not None,
        f"{where} a cert-manager Certificate issues {tls_secret}",
        f"{where} no Certificate issues {tls_secret}",
    )
    # The key set: the command centre verifies the tokens people paste.
    check_pod_secrets(report, f"k8s {overlay}: Deployment {GATEWAY.binary}", GATEWAY, pod_spec, SHARED_SECRETS)
    for service in services.values():
        variable = f"{service.name.upper()}_URL"
        expected = f"https://{service.name}:{service.grpc_port}"
        report.check(
            values.get(variable) == expected,
            f"{where} relays to {service.name} at {expected}",
            f"{where} {variable} is {values.get(variable)!r}, expected {expected}",
        )
    _check_gateway_variables(report, where, facts, configured)
    autoscaler = index.get(("HorizontalPodAutoscaler", GATEWAY.binary))
    minimum = 2 if production else 1
    report.check(
        deployment["spec"].get("replicas", 1) >= minimum
        and autoscaler is not None
        and autoscaler["spec"]["scaleTargetRef"]["name"] == GATEWAY.binary
        and autoscaler["spec"].get("minReplicas", 1) >= minimum,
        f"{where} runs at least {minimum} replicas, with an HPA",
        f"{where} replicas or HPA below {minimum}",
    )
    phases = [
        (document or {}).get("metadata", {}).get("labels", {}).get("flatgov.io/rollout")
        for document in (deployment, autoscaler)
    ]
    report.check(
        phases == ["after-migration", "after-migration"],
        f"{where} Deployment and HPA roll out after the migration",
        f"{where} flatgov.io/rollout labels are {phases}",
    )
    budget = index.get(("PodDisruptionBudget", GATEWAY.binary))
    account = index.get(("ServiceAccount", pod_spec.get("serviceAccountName", "")))
    report.check(
        budget is not None
        and _labels_match(budget["spec"]["selector"], pod_labels)
        and account is not None
        and account.get("automountServiceAccountToken") is False,
        f"{where} has a PodDisruptionBudget and its own ServiceAccount without token",
        f"{where} PodDisruptionBudget or ServiceAccount missing or wrong",
    )
    kube_service = index.get(("Service", GATEWAY.name))
    service_ports = {port.get("name"): port.get("port") for port in (kube_service or {}).get("spec", {}).get("ports") or []}
    report.check(
        kube_service is not None
        and service_ports == {"https": GATEWAY_PORT}
        and _labels_match({"matchLabels": kube_service["spec"]["selector"]}, pod_labels),
        f"{where} Service gateway exposes https {GATEWAY_PORT} and selects the pods",
        f"{where} Service gateway missing, ports {service_ports}, or not selecting the pods",
    )
    jobs = [
        document for (kind, name), document in index.items() if kind == "Job" and name.startswith(f"{GATEWAY.binary}-migrate-")
    ]
    if report.check(
        len(jobs) == 1,
        f"{where} has one migration Job",
        f"{where} has {len(jobs)} migration Jobs named {GATEWAY.binary}-migrate-<tag>, expected 1",
    ):
        job = jobs[0]
        job_name = job["metadata"]["name"]
        job_pod = job["spec"]["template"]["spec"]
        job_container = job_pod["containers"][0]
        report.check(
            job_container.get("command") == [GATEWAY.binary, "migrate"]
            and job["metadata"].get("labels", {}).get("flatgov.io/rollout") == "migration"
            and not job_name.endswith("-unversioned"),
            f"{where} Job {job_name} runs `{GATEWAY.binary} migrate`, named after the release",
            f"{where} Job {job_name} command {job_container.get('command')!r} or labels wrong",
        )
        job_values, job_secrets, _ = effective_env(job_container, index)
        owner_secret, _ = check_database_url(
            report, f"{where} Job {job_name}", "DATABASE_OWNER_URL", job_values, job_secrets, job_pod, job_container
        )
        job_database_secret, _ = check_database_url(
            report, f"{where} Job {job_name}", "DATABASE_URL", job_values, job_secrets, job_pod, job_container
        )
        report.check(
            job_database_secret == database_secret and owner_secret is not None and owner_secret != database_secret,
            f"{where} Job {job_name} migrates as the owner and grants to the role the Deployment runs as",
            f"{where} Job {job_name} owner {owner_secret}, grantee {job_database_secret}, Deployment {database_secret}",
        )
        job_uses = sorted({name for name, _key in secret_references(job_pod)})
        report.check(
            all(name.startswith(f"{GATEWAY.binary}-db-") for name in job_uses),
            f"{where} Job {job_name} uses only its database's secrets",
            f"{where} Job {job_name} uses {job_uses}",
        )
    policies = policies_selecting(documents, pod_labels)
    ingress_ports: set[int] = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ingress_ports |= _rule_ports(rule)
    report.check(
        bool(policies) and ingress_ports == {GATEWAY_PORT},
        f"{where} NetworkPolicy admits HTTPS {GATEWAY_PORT} only",
        f"{where} NetworkPolicy ingress ports {sorted(ingress_ports)}",
    )
    reached: set[str] = set()
    reaches_dns = reaches_database = reaches_nats = reaches_provider = False
    unexpected = []
    for peer, rule_ports in egress_targets(policies):
        peer_labels = ((peer or {}).get("podSelector") or {}).get("matchLabels") or {}
        name = peer_labels.get("app.kubernetes.io/name", "")
        if rule_ports == {53}:
            reaches_dns = True
        elif name == "nats" and rule_ports == {NATS_PORT} and values.get("NATS_URL"):
            reaches_nats = True
        elif rule_ports == {443} and values.get("AUTH_OIDC_ISSUER", "").startswith("https://"):
            # The OpenID Connect provider: discovery, keys, the login's token endpoint.
            reaches_provider = True
        elif rule_ports == {5432} and (peer is None or peer_labels.get("cnpg.io/cluster") == f"{GATEWAY.binary}-db"):
            reaches_database = True
        elif name.startswith("flatgov-") and name[len("flatgov-"):] in services and rule_ports == {
            services[name[len("flatgov-"):]].grpc_port
        }:
            reached.add(name[len("flatgov-"):])
        else:
            unexpected.append(f"{peer or 'anywhere'} on {sorted(rule_ports) or 'every port'}")
    report.check(
        reaches_dns and reaches_database and reached == set(services) and not unexpected,
        f"{where} may reach DNS, its database, the services' gRPC ports, (with live updates) NATS and "
        "(with AUTH_OIDC_ISSUER) the identity provider only",
        f"{where} egress: DNS {reaches_dns}, database {reaches_database}, services {sorted(reached)}, "
        f"unexpected {unexpected}",
    )
    if values.get("AUTH_OIDC_ISSUER"):
        report.check(
            reaches_provider,
            f"{where} may reach the OpenID Connect provider (HTTPS, 443)",
            f"{where} sets AUTH_OIDC_ISSUER but no NetworkPolicy lets it reach TCP 443",
        )
    _check_gateway_login(report, where, documents, values, production)
    if values.get("NATS_URL"):
        report.check(
            reaches_nats,
            f"{where} may reach NATS on {NATS_PORT} for live updates",
            f"{where} sets NATS_URL but its NetworkPolicy does not let it reach NATS on {NATS_PORT}",
        )
    if production:
        cluster_name = f"{GATEWAY.binary}-db"
        cluster = index.get(("Cluster", cluster_name))
        initdb = ((cluster or {}).get("spec", {}).get("bootstrap") or {}).get("initdb") or {}
        roles = {
            role.get("name"): role for role in (((cluster or {}).get("spec", {}).get("managed") or {}).get("roles") or [])
        }
        runtime_secret = ((roles.get(f"{GATEWAY.database}_app") or {}).get("passwordSecret") or {}).get("name")
        report.check(
            cluster is not None
            and initdb.get("database") == GATEWAY.database
            and (cluster["spec"].get("instances") or 0) >= 2
            and database_secret == (runtime_secret, "uri")
            and database_ca == (f"{cluster_name}-ca", "ca.crt"),
            f"{where} runs as {GATEWAY.database}_app on CloudNativePG Cluster {cluster_name}, verified against its authority",
            f"{where} Cluster {cluster_name} missing, or DATABASE_URL {database_secret} / authority {database_ca} not its own",
        )


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def check_code(report: Report, repo: Path, services: dict[str, ServiceSpec]) -> dict[str, CodeFacts]:
    service_directories = sorted(
        path.name for path in (repo / "services").iterdir() if (path / "Cargo.toml").exists()
    )
    report.check(
        set(service_directories) == set(services) | {GATEWAY.name},
        f"services/ holds exactly the services of deploy/services.tsv and the gateway: {', '.join(service_directories)}",
        f"services/ holds {service_directories}, deploy/services.tsv lists {sorted(services)} (and the gateway)",
    )
    crates = workspace_crates(repo)
    facts: dict[str, CodeFacts] = {GATEWAY.name: code_facts(repo, GATEWAY, crates)}
    for service in services.values():
        facts[service.name] = found = code_facts(repo, service, crates)
        names = ", ".join(sorted(found.variables)) or "none"
        print(f"info  code: {service.binary} reads {len(found.variables)} variables ({names})")
        for read in found.unresolved:
            report.fail(
                f"code: {service.binary}: cannot name the variable of `{read}`; pass the name as an "
                "upper-case string literal, directly or through a helper's parameter"
            )
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
    parser.add_argument(
        "--rollout-secrets",
        action="append",
        default=[],
        metavar="OVERLAY=FILE",
        help="the output of `deploy/k8s/rollout --list-secrets` for an overlay",
    )
    parser.add_argument("--kubernetes-validate", default="kubernetes-validate")
    parser.add_argument("--nats-server", default=None, help="nats-server binary for `-t` on rendered configs")
    parser.add_argument("--nats-version", default=None, help="the nats-server release the configs are validated with")
    parser.add_argument(
        "--tls-fixtures",
        type=Path,
        default=None,
        help="a directory with nats.pem, nats-key.pem, ca.pem and accounts.conf (the compose NATS volume "
        "scripts/check-deploy generates) standing in for the mounted files when nats-server -t checks a config",
    )
    parser.add_argument("--quiet", action="store_true", help="print failures and warnings only")
    arguments = parser.parse_args(argv)

    repo = arguments.repo.resolve()
    report = Report(quiet=arguments.quiet)
    services = load_service_table(repo / "deploy/services.tsv")
    facts = check_code(report, repo, services)
    check_compose(
        report, repo, repo / "docker-compose.yml", services, facts, arguments.nats_version,
        arguments.nats_server, arguments.tls_fixtures,
    )
    rollout_secrets = dict(item.partition("=")[::2] for item in arguments.rollout_secrets)
    for item in arguments.rendered:
        overlay, _, file_name = item.partition("=")
        documents = load_documents(Path(file_name))
        validate_kubernetes(report, overlay, documents, arguments.kubernetes_validate, repo / "deploy/k8s/schemas")
        if overlay != "base":
            check_kubernetes_overlay(
                report, overlay, documents, services, facts, arguments.nats_version, arguments.nats_server,
                arguments.tls_fixtures,
            )
            if overlay in rollout_secrets:
                check_rollout_secrets(report, overlay, documents, Path(rollout_secrets[overlay]).read_text())
            elif arguments.rollout_secrets:
                report.fail(f"k8s {overlay}: no `deploy/k8s/rollout --list-secrets` output to compare with")

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
