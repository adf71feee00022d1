#!/usr/bin/env python3
"""Runs the compose TLS set-up for real, offline, on this machine.

scripts/check-deploy calls this after building the `flatgov` CLI and one
service binary. Everything runs on 127.0.0.1, on free ports, in a temporary
directory, and is stopped and removed at the end:

1. deploy/compose/init/flatgov-init.sh (the compose `init` one-shot) with the
   built CLI: each service's volume receives only its own certificate, NATS
   seed and (callers) signing key, the trust volume only the key set and the
   authority, no volume the people key; a second run changes nothing.
2. A private PostgreSQL with the compose settings (ssl=on with the init
   one-shot's certificate, deploy/compose/postgres/pg_hba.conf) and the
   compose init script (owner and application roles): `openssl s_client
   -starttls postgres` verifies the certificate; each application role
   connects with sslmode=verify-full to its own database only, cannot create
   tables, and plaintext or a wrong password is refused.
3. nats-server with deploy/compose/nats.conf (paths and ports adapted) and the
   generated users: the certificate verifies after the INFO line (NATS
   upgrades to TLS in-band, which `openssl s_client` cannot do), TLS and
   authentication are required, a client without credentials is refused.
4. A service with compose's environment (hosts and paths adapted): its
   migration one-shot as the owner (the application role then cannot change
   the audit trail), the service over verify-full PostgreSQL and TLS NATS as
   its own user, `health-check` over TLS reporting SERVING, and `openssl
   s_client` verifying the gRPC certificate for the compose host name.

It leaves the compose NATS volume's files (accounts.conf, nats.pem,
nats-key.pem, ca.pem) in --fixtures for check_deploy.py's `nats-server -t`.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

import check_deploy as checker

STATE = "state"
OUT = "out"


def free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def wait_for_port(port: int, seconds: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        with socket.socket() as handle:
            handle.settimeout(0.5)
            if handle.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, **options)


class Live:
    def __init__(self, arguments: argparse.Namespace, report: checker.Report) -> None:
        self.repo: Path = arguments.repo.resolve()
        self.work: Path = arguments.work.resolve()
        self.flatgov: str = arguments.flatgov
        self.service_binary: str = arguments.service_binary
        self.nats_server: str = arguments.nats_server
        self.pg_bin: Path | None = arguments.pg_bin
        self.fixtures: Path = arguments.fixtures
        self.report = report
        self.processes: list[subprocess.Popen] = []
        self.pgdata: Path | None = None
        # The compose init one-shot's FLATGOV_GATEWAY (read in init()).
        self.gateway = ""
        compose = yaml.safe_load((self.repo / "docker-compose.yml").read_text())
        self.compose: dict[str, Any] = compose["services"]
        self.out = self.work / OUT
        self.state = self.work / STATE

    # -- helpers --------------------------------------------------------------

    def environment_of(self, service: str) -> dict[str, str]:
        return checker.compose_environment(self.compose[service], {})

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        if self.pgdata is not None and (self.pgdata / "postmaster.pid").exists():
            run(["runuser", "-u", "postgres", "--", str(self.pg_bin / "pg_ctl"), "-D", str(self.pgdata),
                 "-m", "immediate", "stop"])

    # -- 1. the init one-shot ---------------------------------------------------

    def init(self) -> bool:
        environment = self.environment_of(checker.COMPOSE_INIT)
        self.services = environment.get("FLATGOV_SERVICES", "").split()
        self.callers = set(environment.get("FLATGOV_CALLERS", "").split())
        self.gateway = environment.get("FLATGOV_GATEWAY", "")
        postgres_gid = grp.getgrnam("postgres").gr_gid if self.pg_bin else 0
        self.init_environment = {
            **os.environ,
            **environment,
            "FLATGOV_STATE_DIR": str(self.state),
            "FLATGOV_OUT_DIR": str(self.out),
            "FLATGOV_BIN": self.flatgov,
            "FLATGOV_POSTGRES_GID": str(postgres_gid),
        }
        script = self.repo / checker.COMPOSE_INIT_SCRIPT
        result = run(["bash", str(script)], env=self.init_environment)
        if not self.report.check(
            result.returncode == 0,
            f"live: {checker.COMPOSE_INIT_SCRIPT} made keys, certificates and NATS users with the built CLI",
            f"live: {checker.COMPOSE_INIT_SCRIPT} failed: {result.stderr.strip()[-2000:]}",
        ):
            return False
        people = (self.state / "keys/people.pem").read_bytes()
        problems = []
        for service in self.services:
            expected = {"tls.pem", "tls-key.pem", "nats.nk"}
            if service in self.callers:
                expected.add("signing-key.pem")
            if service == "federation":
                expected.add("federation-identity-key")
            directory = self.out / service
            found = {path.name for path in directory.iterdir()}
            if found != expected:
                problems.append(f"{service} received {sorted(found)}, expected {sorted(expected)}")
                continue
            pairs = [
                ("tls.pem", self.state / f"tls/{service}.pem"),
                ("tls-key.pem", self.state / f"tls/{service}-key.pem"),
                ("nats.nk", self.state / f"nats/users/service-{service}.nk"),
            ]
            if service in self.callers:
                pairs.append(("signing-key.pem", self.state / f"keys/services/{service}.pem"))
            for name, source in pairs:
                if (directory / name).read_bytes() != source.read_bytes():
                    problems.append(f"{service}/{name} is not {service}'s own ({source.name})")
        if self.gateway:
            gateway_files = {
                "tls.pem": self.state / f"tls/{self.gateway}.pem",
                "tls-key.pem": self.state / f"tls/{self.gateway}-key.pem",
                "signing-key.pem": self.state / f"keys/services/{self.gateway}.pem",
                # Its read-only NATS user: the command centre's live updates.
                "nats.nk": self.state / f"nats/users/service-{self.gateway}.nk",
            }
            found = {path.name for path in (self.out / self.gateway).iterdir()}
            if found != set(gateway_files):
                problems.append(f"{self.gateway} received {sorted(found)}, expected {sorted(gateway_files)}")
            for name, source in gateway_files.items():
                if (self.out / self.gateway / name).exists() and (self.out / self.gateway / name).read_bytes() != source.read_bytes():
                    problems.append(f"{self.gateway}/{name} is not the gateway's own ({source.name})")
        for name, expected in (
            ("trust", {"jwks.json", "ca.pem"}),
            ("nats", {"accounts.conf", "nats.pem", "nats-key.pem", "ca.pem"}),
            ("postgres", {"postgres.pem", "postgres-key.pem"}),
        ):
            found = {path.name for path in (self.out / name).iterdir()}
            if found != expected:
                problems.append(f"{name} received {sorted(found)}, expected {sorted(expected)}")
        for path in self.out.rglob("*"):
            if path.is_file() and (path.name == "people.pem" or path.read_bytes() == people):
                problems.append(f"{path.relative_to(self.out)} is the people key")
        self.report.check(
            not problems,
            f"live: each of {len(self.services)} services received only its own certificate, NATS seed and "
            f"(callers: {', '.join(sorted(self.callers))}) signing key; trust only the key set and the authority; "
            "no volume the people key",
            f"live: the init one-shot handed out the wrong files: {'; '.join(problems)}",
        )
        before = {str(path): path.stat().st_mtime_ns for path in self.out.rglob("*") if path.is_file()}
        again = run(["bash", str(script)], env=self.init_environment)
        after = {str(path): path.stat().st_mtime_ns for path in self.out.rglob("*") if path.is_file()}
        self.report.check(
            again.returncode == 0 and before == after,
            "live: running the init one-shot again changes nothing (keys, certificates and seeds are kept)",
            f"live: the second init run failed or rewrote files: {again.stderr.strip()[-500:]}",
        )
        self.fixtures.mkdir(parents=True, exist_ok=True)
        for name in ("accounts.conf", "nats.pem", "nats-key.pem", "ca.pem"):
            shutil.copyfile(self.out / "nats" / name, self.fixtures / name)
        self.ca = str(self.out / "trust/ca.pem")
        return not problems

    # -- 2. PostgreSQL ------------------------------------------------------------

    def postgres(self) -> bool:
        if self.pg_bin is None:
            self.report.warn("live: PostgreSQL skipped: no server binaries (install postgresql)")
            return False
        definition = self.compose["postgres"]
        command = [str(item) for item in definition.get("command") or []]
        settings = {
            command[index + 1].partition("=")[0]: command[index + 1].partition("=")[2]
            for index, argument in enumerate(command[:-1])
            if argument == "-c"
        }
        mounts = checker._compose_mounts(definition)
        volume_of = {target: source for source, target, _ro in mounts}

        def local(path: str) -> str:
            for target, source in volume_of.items():
                if path == target or checker._is_under(path, target):
                    relative = path[len(target.rstrip("/")) + 1:] if path != target else ""
                    if source == "postgres-tls":
                        return str(self.out / "postgres" / relative)
                    if source.startswith(".") and not relative:
                        # A file of the repository (pg_hba.conf): a copy the
                        # postgres user can read wherever the clone is.
                        copy = self.work / Path(source).name
                        shutil.copyfile(self.repo / source, copy)
                        copy.chmod(0o644)
                        return str(copy)
            raise ValueError(f"{path} is in no volume of the compose postgres")

        options = []
        for name, value in settings.items():
            if name.endswith("_file"):
                value = local(value)
            options += ["-c", f"{name}={value}"]
        self.pg_port = free_port()
        self.pgdata = self.work / "pgdata"
        socket_directory = self.work / "pgsocket"
        user = pwd.getpwnam("postgres")
        for directory in (self.pgdata, socket_directory):
            directory.mkdir(mode=0o700)
            os.chown(directory, user.pw_uid, user.pw_gid)
        log = self.work / "pgsocket/server.log"
        initdb = run(["runuser", "-u", "postgres", "--", str(self.pg_bin / "initdb"), "-D", str(self.pgdata),
                      "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256"])
        start = run(
            ["runuser", "-u", "postgres", "--", str(self.pg_bin / "pg_ctl"), "-D", str(self.pgdata), "-w",
             "-l", str(log), "-o",
             " ".join([f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {socket_directory}"]
                      + [f"{flag} {setting}" for flag, setting in zip(options[::2], options[1::2])]),
             "start"]
        ) if initdb.returncode == 0 else initdb
        if not self.report.check(
            start.returncode == 0,
            f"live: PostgreSQL {self.pg_version()} runs with the compose settings ({', '.join(settings)})",
            f"live: PostgreSQL did not start with the compose settings: {start.stdout}{start.stderr}"
            f"{log.read_text() if log.exists() else ''}",
        ):
            return False
        postgres_environment = checker.compose_environment(definition, {})
        self.passwords = {key: value for key, value in postgres_environment.items() if key.startswith("FLATGOV_")}
        # A quote in a password must not break the init script's SQL.
        tricky = "enf'orce\"ment"
        script_environment = {
            **self.passwords,
            "FLATGOV_ENFORCEMENT_DB_PASSWORD": tricky,
            "PGHOST": str(socket_directory),
            "PGPORT": str(self.pg_port),
            "POSTGRES_USER": "postgres",
            "PATH": f"{self.pg_bin}:/usr/bin:/bin",
        }
        init = run(["runuser", "-u", "postgres", "--", "env", *[f"{k}={v}" for k, v in script_environment.items()],
                    "bash", str(self.repo / "deploy/compose/postgres-init/10-flatgov-databases.sh")])
        if not self.report.check(
            init.returncode == 0,
            "live: deploy/compose/postgres-init creates each service's database, owner and application role",
            f"live: the postgres init script failed: {init.stdout}{init.stderr}",
        ):
            return False

        def psql(user: str, password: str, database: str, sql: str, sslmode: str = "verify-full") -> subprocess.CompletedProcess:
            return run(
                [str(self.pg_bin / "psql"), "-Atq", "-c", sql,
                 f"host=localhost port={self.pg_port} dbname={database} user={user} sslmode={sslmode} sslrootcert={self.ca}"],
                env={"PGPASSWORD": password, "PATH": "/usr/bin:/bin"},
            )

        problems = []
        for service in [*self.services, *([self.gateway] if self.gateway else [])]:
            app_password = tricky if service == "enforcement" else self.passwords[f"FLATGOV_{service.upper()}_DB_PASSWORD"]
            owner_password = self.passwords[f"FLATGOV_{service.upper()}_DB_OWNER_PASSWORD"]
            database = f"flatgov_{service}"
            if psql(f"{database}_app", app_password, database, "select 1").returncode != 0:
                problems.append(f"{database}_app cannot connect to its database with verify-full")
            if psql(f"{database}_app", app_password, database, "create table t (id int)").returncode == 0:
                problems.append(f"{database}_app may create tables")
            if psql(database, owner_password, database, "create table t (id int); drop table t;").returncode != 0:
                problems.append(f"the owner {database} cannot create tables")
        if psql("flatgov_cases_app", self.passwords["FLATGOV_CASES_DB_PASSWORD"], "flatgov_blocks", "select 1").returncode == 0:
            problems.append("flatgov_cases_app connects to flatgov_blocks")
        if psql("flatgov_duties_app", "wrong", "flatgov_duties", "select 1").returncode == 0:
            problems.append("flatgov_duties_app connects with a wrong password")
        plaintext = psql("flatgov_duties_app", self.passwords["FLATGOV_DUTIES_DB_PASSWORD"], "flatgov_duties",
                         "select 1", sslmode="disable")
        if plaintext.returncode == 0:
            problems.append("a connection without TLS is admitted")
        self.report.check(
            not problems,
            "live: PostgreSQL over TLS: each application role reaches its own database only (verify-full), "
            "may not create tables, needs its password; plaintext is refused",
            f"live: PostgreSQL roles: {'; '.join(problems)}",
        )
        self.s_client("PostgreSQL", ["-starttls", "postgres"], self.pg_port, "postgres")
        return not problems

    def pg_version(self) -> str:
        result = run([str(self.pg_bin / "postgres"), "--version"])
        found = re.search(r"\d+(\.\d+)+", result.stdout)
        return found.group(0) if found else "?"

    def s_client(self, what: str, extra: list[str], port: int, host: str) -> None:
        result = run(
            ["openssl", "s_client", *extra, "-connect", f"127.0.0.1:{port}", "-servername", host,
             "-verify_hostname", host, "-CAfile", self.ca, "-verify_return_error", "-brief"],
            input="",
            timeout=20,
        )
        output = result.stdout + result.stderr
        verified = result.returncode == 0 and "Verification: OK" in output
        peer = next((line.split(":", 1)[1].strip() for line in output.splitlines()
                     if line.startswith("Peer certificate:")), "?")
        self.report.check(
            verified,
            f"live: openssl s_client {' '.join(extra)} verifies {what}'s certificate for {host} ({peer})".replace("  ", " "),
            f"live: openssl s_client does not verify {what}'s certificate for {host}: {output.strip()[-1500:]}",
        )

    # -- 3. NATS --------------------------------------------------------------

    def nats(self) -> bool:
        definition = self.compose["nats"]
        mounts = checker._compose_mounts(definition)
        config_target = next(target for source, target, _ro in mounts if source.endswith("deploy/compose/nats.conf"))
        volume_target = next(target for source, target, _ro in mounts if source == "nats-config")
        text = (self.repo / "deploy/compose/nats.conf").read_text()
        self.nats_port = free_port()
        monitor = free_port()
        run_directory = self.work / "nats-run"
        run_directory.mkdir()
        # The config's directory holds the nats-config volume as compose mounts
        # it (for the relative include).
        relative = Path(volume_target).relative_to(Path(config_target).parent)
        (run_directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (run_directory / relative).symlink_to(self.out / "nats")
        text = text.replace(volume_target.rstrip("/") + "/", str(self.out / "nats") + "/")
        text = text.replace("store_dir: /data/jetstream", f"store_dir: {self.work / 'nats-data'}")
        text = "\n".join(
            f"port: {self.nats_port}" if line.startswith("port:")
            else f"http: 127.0.0.1:{monitor}" if line.startswith("http:")
            else line
            for line in text.splitlines()
        )
        config = run_directory / "nats-server.conf"
        config.write_text(text + "\n")
        log = open(self.work / "nats.log", "w")
        process = subprocess.Popen([self.nats_server, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        if not self.report.check(
            wait_for_port(self.nats_port, 20, process),
            f"live: nats-server runs deploy/compose/nats.conf with the generated users and certificate",
            f"live: nats-server did not start with deploy/compose/nats.conf: {(self.work / 'nats.log').read_text()[-2000:]}",
        ):
            return False
        problems = []
        info, peer, answer = self.nats_handshake(credentials=False)
        if not (info.get("tls_required") and info.get("auth_required")):
            problems.append(f"INFO does not require TLS and authentication: {info}")
        if "Authorization Violation" not in answer:
            problems.append(f"a TLS client without credentials got {answer!r}")
        with socket.create_connection(("127.0.0.1", self.nats_port), timeout=5) as plain:
            plain.recv(4096)
            plain.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
            try:
                reply = plain.recv(4096).decode(errors="replace")
            except OSError:
                reply = ""
            if "PONG" in reply:
                problems.append("a plaintext client was answered")
        self.report.check(
            peer is not None and not problems,
            f"live: NATS verifies as `nats` against the compose authority after its INFO ({peer}); TLS and "
            "credentials required, an anonymous client refused",
            f"live: NATS over TLS: {'; '.join(problems) or 'the certificate did not verify'}",
        )
        return peer is not None and not problems

    def nats_handshake(self, credentials: bool) -> tuple[dict[str, Any], str | None, str]:
        """NATS sends INFO in the clear, then the client upgrades to TLS."""
        context = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.nats_port), timeout=5) as raw:
            line = b""
            while not line.endswith(b"\r\n"):
                line += raw.recv(1)
            info = json.loads(line.decode().partition(" ")[2])
            try:
                with context.wrap_socket(raw, server_hostname="nats") as secure:
                    certificate = secure.getpeercert()
                    subject = dict(item[0] for item in certificate.get("subject", ()))
                    peer = f"CN={subject.get('commonName', '?')}, verified"
                    secure.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
                    answer = secure.recv(4096).decode(errors="replace")
            except ssl.SSLError as error:
                return info, None, str(error)
        return info, peer, answer

    # -- 4. a service ------------------------------------------------------------

    def service(self) -> None:
        name = Path(self.service_binary).name.removeprefix("flatgov-")
        grpc_port = free_port()
        metrics_port = free_port()
        volume_targets = {
            source: target for source, target, _ro in checker._compose_mounts(self.compose[name])
        }
        local_directories = {
            volume_targets["flatgov-trust"]: self.out / "trust",
            volume_targets[f"flatgov-{name}"]: self.out / name,
        }

        def adapt(environment: dict[str, str]) -> dict[str, str]:
            adapted = {}
            for key, value in environment.items():
                for target, directory in local_directories.items():
                    value = value.replace(target.rstrip("/") + "/", f"{directory}/")
                value = value.replace("@postgres:5432/", f"@localhost:{self.pg_port}/")
                value = value.replace("tls://nats:4222", f"tls://localhost:{self.nats_port}")
                adapted[key] = value
            adapted["GRPC_LISTEN_ADDR"] = f"127.0.0.1:{grpc_port}"
            adapted["METRICS_LISTEN_ADDR"] = f"127.0.0.1:{metrics_port}"
            adapted["PATH"] = "/usr/bin:/bin"
            return adapted

        migrate_environment = adapt(self.environment_of(f"{name}-migrate"))
        migrate = run([self.service_binary, "migrate"], env=migrate_environment, timeout=120)
        if not self.report.check(
            migrate.returncode == 0,
            f"live: {name}-migrate migrates as the owner over verify-full and grants the application role",
            f"live: {name}-migrate failed: {(migrate.stdout + migrate.stderr).strip()[-2000:]}",
        ):
            return
        grants = run(
            [str(self.pg_bin / "psql"), "-Atq", "-c",
             "select count(*) filter (where privilege_type in ('UPDATE', 'DELETE', 'TRUNCATE')), "
             "count(*) filter (where privilege_type = 'SELECT') from information_schema.role_table_grants "
             f"where grantee = 'flatgov_{name}_app' and table_name like 'flatgov\\_audit%'",
             f"host=localhost port={self.pg_port} dbname=flatgov_{name} user=flatgov_{name} "
             f"sslmode=verify-full sslrootcert={self.ca}"],
            env={"PGPASSWORD": self.passwords[f"FLATGOV_{name.upper()}_DB_OWNER_PASSWORD"], "PATH": "/usr/bin:/bin"},
        )
        changes, reads = (grants.stdout.strip().split("|") + ["?", "?"])[:2]
        self.report.check(
            grants.returncode == 0 and changes == "0" and reads not in ("0", "?"),
            f"live: flatgov_{name}_app reads its audit trail and may not update, delete or truncate it",
            f"live: flatgov_{name}_app privileges on the audit tables: {grants.stdout.strip()} {grants.stderr.strip()}",
        )
        environment = adapt(self.environment_of(name))
        log = open(self.work / f"{name}.log", "w")
        process = subprocess.Popen([self.service_binary], env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        deadline = time.monotonic() + 90
        healthy = False
        answer = ""
        while time.monotonic() < deadline and process.poll() is None:
            check = run([self.service_binary, "health-check"], env=environment, timeout=20)
            answer = (check.stdout + check.stderr).strip()
            if check.returncode == 0:
                healthy = True
                break
            time.sleep(0.5)
        if not self.report.check(
            healthy,
            f"live: flatgov-{name} with compose's environment (verify-full PostgreSQL, TLS NATS as its own user, "
            "gRPC over TLS) reports SERVING to `health-check` over TLS",
            f"live: flatgov-{name} did not become healthy ({answer}); its log: "
            f"{(self.work / f'{name}.log').read_text()[-3000:]}",
        ):
            return
        self.s_client(f"flatgov-{name}'s gRPC", ["-alpn", "h2"], grpc_port, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="an empty directory to work in")
    parser.add_argument("--flatgov", required=True, help="the built flatgov CLI")
    parser.add_argument("--service-binary", required=True, help="a built service binary, e.g. target/debug/flatgov-duties")
    parser.add_argument("--nats-server", required=True)
    parser.add_argument("--pg-bin", type=Path, default=None, help="PostgreSQL's server binaries")
    parser.add_argument("--fixtures", type=Path, required=True, help="where to leave the NATS volume's files")
    parser.add_argument("--quiet", action="store_true")
    arguments = parser.parse_args(argv)
    report = checker.Report(quiet=arguments.quiet)
    arguments.work.mkdir(parents=True, exist_ok=True)
    arguments.work.chmod(0o755)
    live = Live(arguments, report)
    try:
        if live.init():
            postgres_ok = live.postgres()
            nats_ok = live.nats()
            if postgres_ok and nats_ok:
                live.service()
    finally:
        live.stop()
    print(f"\nlive_tls: {report.passed} checks passed, {len(report.failures)} failed, {len(report.warnings)} warnings")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
