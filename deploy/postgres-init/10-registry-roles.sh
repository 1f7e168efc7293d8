#!/bin/sh
# Runs once, when the postgres service initialises its empty volume (the official image
# runs /docker-entrypoint-initdb.d/*.sh as POSTGRES_USER, the cluster's superuser).
#
# Creates the registry's two roles, neither a superuser:
#   REGISTRY_OWNER_USER  owns the database and its schema: the `migrate` job runs the
#                        migrations (DDL) as this role and grants the app role its rights.
#   REGISTRY_APP_USER    what registryd connects as: CONNECT and USAGE here; `registryd
#                        migrate --grant-to` adds SELECT/INSERT/UPDATE/DELETE on the tables
#                        and their sequences, and nothing else (no DDL, no TRUNCATE).
# The superuser (POSTGRES_USER) is used by nothing else.
set -eu
: "${REGISTRY_OWNER_USER:?}" "${REGISTRY_OWNER_PASSWORD:?}" "${REGISTRY_APP_USER:?}" "${REGISTRY_APP_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$REGISTRY_OWNER_USER" -v owner_password="$REGISTRY_OWNER_PASSWORD" \
  -v app="$REGISTRY_APP_USER" -v app_password="$REGISTRY_APP_PASSWORD" \
  -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE :"app" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER DATABASE :"db" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"owner";
GRANT CONNECT ON DATABASE :"db" TO :"app";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
SQL
