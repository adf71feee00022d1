#!/usr/bin/env bash
# The compose `init` one-shot: creates the platform's keys, certificates and
# NATS users once, then hands each container only what it needs, each into a
# volume of its own (docker-compose.yml mounts them read-only):
#
#   trust volume (every service)   jwks.json, ca.pem                     public
#   <svc> volume (that service)    tls.pem, tls-key.pem, nats.nk,
#                                  signing-key.pem (callers only),
#                                  federation-identity-key (federation)
#   gateway volume (the gateway)   tls.pem, tls-key.pem, signing-key.pem,
#                                  nats.nk (a user that may only subscribe
#                                  to case events: it keeps no events)
#   nats volume (nats)             accounts.conf, nats.pem, nats-key.pem, ca.pem
#   postgres volume (postgres)     postgres.pem, postgres-key.pem
#
# The originals stay in the state volumes, which only this one-shot (and the
# demo's CLI, for the people key) mounts: keys/ (`flatgov keys`: jwks.json,
# people.pem, services/<svc>.pem, federation-identity-key), tls/ (`flatgov
# certs`: the authority's key and every certificate) and nats/ (`flatgov nats`:
# every user's seed). No service container ever sees people.pem, another
# service's key or seed, or the authority's key.
#
# Idempotent: existing keys, certificates and seeds are kept, and a file is
# rewritten (atomically, by rename, so the services' file watchers see one
# change) only when its content changed. After `flatgov keys rotate` (or
# `retire`, `integrator credentials|revoke`) in the state volumes, running this
# again publishes the result: the key set first, then - after
# FLATGOV_PROPAGATION_SECONDS, so verifiers reload it (they look every ~2 s) -
# the new signing keys. docs/deploy.md has the runbooks.
#
# scripts/check-deploy runs this script outside any container, with the paths
# below pointed at a temporary directory, and checks what each volume receives.
set -euo pipefail

state="${FLATGOV_STATE_DIR:-/var/lib/flatgov}"
out="${FLATGOV_OUT_DIR:-/srv/flatgov}"
flatgov="${FLATGOV_BIN:-flatgov}"
# Every flatgov service, and those that call another (they sign their calls).
read -r -a services <<< "${FLATGOV_SERVICES:-blocks duties cases enforcement federation notices mediation errands}"
read -r -a callers <<< "${FLATGOV_CALLERS:-cases enforcement notices mediation}"
# The HTTP gateway in front of them (empty: none). It signs the Open311
# requests it reports to cases, and serves HTTPS with its certificate.
gateway="${FLATGOV_GATEWAY-gateway}"
# Owners: the services run as 10001 (Dockerfile); PostgreSQL's group in the
# postgres image is 999 and it accepts a root-owned key readable by its group.
service_uid="${FLATGOV_SERVICE_UID:-10001}"
postgres_gid="${FLATGOV_POSTGRES_GID:-999}"
# How the generated NATS accounts describe the server (`flatgov integrator
# credentials` prints its URL): TLS listener on 4222, certificates where the
# nats container mounts its volume.
nats_listen="${FLATGOV_NATS_LISTEN:-0.0.0.0:4222}"
nats_tls_dir="${FLATGOV_NATS_TLS_DIR:-/etc/nats/flatgov}"
propagation="${FLATGOV_PROPAGATION_SECONDS:-5}"

log() { printf 'flatgov-init: %s\n' "$*" >&2; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }

# publish SOURCE DESTINATION MODE UID GID: copies when the content differs;
# returns 0 when it wrote, 1 when the destination was already up to date.
publish() {
    local source="$1" destination="$2" mode="$3" uid="$4" gid="$5" temporary
    if [[ -f "${destination}" ]] && cmp -s "${source}" "${destination}"; then
        return 1
    fi
    temporary="$(dirname "${destination}")/.$(basename "${destination}").new"
    if is_root; then
        install -m "${mode}" -o "${uid}" -g "${gid}" "${source}" "${temporary}"
    else
        install -m "${mode}" "${source}" "${temporary}"
    fi
    mv -f "${temporary}" "${destination}"
    log "wrote ${destination}"
    return 0
}

# directory PATH MODE UID GID: the root of an output volume.
directory() {
    mkdir -p "$1"
    chmod "$2" "$1"
    if is_root; then chown "$3:$4" "$1"; fi
}

is_caller() {
    local service="$1" caller
    for caller in "${callers[@]}"; do
        [[ "${caller}" == "${service}" ]] && return 0
    done
    return 1
}

# 1. Create what is missing in the state volumes (everything is kept otherwise).
mkdir -p "${state}/keys" "${state}/tls" "${state}/nats"
chmod 0700 "${state}/keys" "${state}/tls" "${state}/nats"
"${flatgov}" keys init --dir "${state}/keys" >/dev/null
"${flatgov}" certs init --dir "${state}/tls" >/dev/null
# The server config in the repository (deploy/compose/nats.conf) holds the
# listener, TLS and JetStream settings; it includes only the users.
accounts="$(mktemp)"
trap 'rm -f "${accounts}"' EXIT
"${flatgov}" nats config --dir "${state}/nats" --listen "${nats_listen}" \
    --tls-dir "${nats_tls_dir}" --sync-always --accounts-file "${accounts}" >/dev/null
grep -q 'nkey:' "${accounts}" || { log "no NATS users in ${state}/nats/nats-server.conf"; exit 1; }

# 2. Which signing keys change (a rotation): they wait for the key set.
pending=()
for service in "${callers[@]}" ${gateway:+"${gateway}"}; do
    destination="${out}/${service}/signing-key.pem"
    if [[ -f "${destination}" ]] && ! cmp -s "${state}/keys/services/${service}.pem" "${destination}"; then
        pending+=("${service}")
    fi
done

# 3. The public trust every service reads: the key set and the authority.
directory "${out}/trust" 0755 0 0
jwks_changed=false
if publish "${state}/keys/jwks.json" "${out}/trust/jwks.json" 0644 0 0; then jwks_changed=true; fi
publish "${state}/tls/ca.pem" "${out}/trust/ca.pem" 0644 0 0 || true
if [[ "${jwks_changed}" == true && ${#pending[@]} -gt 0 ]]; then
    log "waiting ${propagation}s for the verifiers to load the new key set before ${pending[*]} sign with new keys"
    sleep "${propagation}"
fi

# 4. Each service: its own certificate, NATS seed and (callers) signing key.
for service in "${services[@]}"; do
    target="${out}/${service}"
    directory "${target}" 0500 "${service_uid}" "${service_uid}"
    publish "${state}/tls/${service}.pem" "${target}/tls.pem" 0444 "${service_uid}" "${service_uid}" || true
    publish "${state}/tls/${service}-key.pem" "${target}/tls-key.pem" 0400 "${service_uid}" "${service_uid}" || true
    publish "${state}/nats/users/service-${service}.nk" "${target}/nats.nk" 0400 "${service_uid}" "${service_uid}" || true
    if is_caller "${service}"; then
        publish "${state}/keys/services/${service}.pem" "${target}/signing-key.pem" 0400 "${service_uid}" "${service_uid}" || true
    else
        rm -f "${target}/signing-key.pem"
    fi
    if [[ "${service}" == federation ]]; then
        publish "${state}/keys/federation-identity-key" "${target}/federation-identity-key" 0400 \
            "${service_uid}" "${service_uid}" || true
    fi
done

# 4b. The gateway: its certificate (HTTPS, and the client certificate it
#     shows services requiring mTLS), its own signing key and its NATS seed
#     (a user that may only subscribe to case events: the command centre's
#     live updates).
if [[ -n "${gateway}" ]]; then
    target="${out}/${gateway}"
    directory "${target}" 0500 "${service_uid}" "${service_uid}"
    publish "${state}/tls/${gateway}.pem" "${target}/tls.pem" 0444 "${service_uid}" "${service_uid}" || true
    publish "${state}/tls/${gateway}-key.pem" "${target}/tls-key.pem" 0400 "${service_uid}" "${service_uid}" || true
    publish "${state}/keys/services/${gateway}.pem" "${target}/signing-key.pem" 0400 "${service_uid}" "${service_uid}" || true
    publish "${state}/nats/users/service-${gateway}.nk" "${target}/nats.nk" 0400 "${service_uid}" "${service_uid}" || true
fi

# 5. NATS: the users (public nkeys only) and its certificate.
directory "${out}/nats" 0755 0 0
publish "${accounts}" "${out}/nats/accounts.conf" 0644 0 0 || true
publish "${state}/tls/nats.pem" "${out}/nats/nats.pem" 0644 0 0 || true
publish "${state}/tls/nats-key.pem" "${out}/nats/nats-key.pem" 0400 0 0 || true
publish "${state}/tls/ca.pem" "${out}/nats/ca.pem" 0644 0 0 || true

# 6. PostgreSQL: its server certificate; the key root-owned and readable by
#    the postgres group only (0640), which PostgreSQL accepts.
directory "${out}/postgres" 0755 0 0
publish "${state}/tls/postgres.pem" "${out}/postgres/postgres.pem" 0644 0 0 || true
publish "${state}/tls/postgres-key.pem" "${out}/postgres/postgres-key.pem" 0640 0 "${postgres_gid}" || true

log "ready: ${#services[@]} services, signing keys for ${callers[*]}${gateway:+ and ${gateway}}"
