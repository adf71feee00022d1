#!/usr/bin/env bash
# Creates one database and one login role per flatgov service. The official
# postgres image runs this once, on the first start of an empty data volume
# (/docker-entrypoint-initdb.d), as the superuser.
#
# Each service owns its database and nobody else may connect to it: no service
# reads another's database. The passwords come from FLATGOV_<SVC>_DB_PASSWORD,
# which docker-compose.yml sets from the same variables as the services'
# DATABASE_URL.
set -euo pipefail

for service in blocks duties cases enforcement federation; do
    password_variable="FLATGOV_${service^^}_DB_PASSWORD"
    password="${!password_variable:-}"
    if [[ -z "${password}" ]]; then
        echo "flatgov init: ${password_variable} is not set" >&2
        exit 1
    fi
    name="flatgov_${service}"
    # psql variables (:"name" quotes an identifier, :'password' a literal) so
    # a password with quotes in it cannot break or inject into the SQL.
    psql --no-psqlrc --set ON_ERROR_STOP=1 \
        --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        --set name="${name}" --set password="${password}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
    echo "flatgov init: created role and database ${name}"
done
