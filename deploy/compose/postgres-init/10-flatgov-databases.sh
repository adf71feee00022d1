#!/usr/bin/env bash
# Creates one database and two login roles per flatgov service and for the
# gateway (its Open311 client registry). The official
# postgres image runs this once, on the first start of an empty data volume
# (/docker-entrypoint-initdb.d), as the superuser over the Unix socket.
#
#   flatgov_<svc>      owns the database; only the `<svc>-migrate` one-shot
#                      logs in as it (DATABASE_OWNER_URL), applies the
#                      migrations and grants the application role its share
#   flatgov_<svc>_app  the role the service runs as (DATABASE_URL): it may
#                      read and write the service's tables, but only append to
#                      the audit and history tables (the owner's grants)
#
# Nobody else may connect to the database: no service reads another's. The
# passwords come from FLATGOV_<SVC>_DB_OWNER_PASSWORD and
# FLATGOV_<SVC>_DB_PASSWORD, which docker-compose.yml also puts in the URLs.
set -euo pipefail

for service in blocks duties cases enforcement federation notices mediation errands gateway; do
    owner_variable="FLATGOV_${service^^}_DB_OWNER_PASSWORD"
    app_variable="FLATGOV_${service^^}_DB_PASSWORD"
    owner_password="${!owner_variable:-}"
    app_password="${!app_variable:-}"
    for variable in "${owner_variable}" "${app_variable}"; do
        if [[ -z "${!variable:-}" ]]; then
            echo "flatgov init: ${variable} is not set" >&2
            exit 1
        fi
    done
    if [[ "${owner_password}" == "${app_password}" ]]; then
        echo "flatgov init: ${owner_variable} and ${app_variable} must differ" >&2
        exit 1
    fi
    name="flatgov_${service}"
    # psql variables (:"name" quotes an identifier, :'password' a literal) so
    # a password with quotes in it cannot break or inject into the SQL.
    psql --no-psqlrc --set ON_ERROR_STOP=1 \
        --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        --set name="${name}" --set app="${name}_app" \
        --set owner_password="${owner_password}" --set app_password="${app_password}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
GRANT CONNECT ON DATABASE :"name" TO :"app";
SQL
    echo "flatgov init: created database ${name}, its owner ${name} and application role ${name}_app"
done
