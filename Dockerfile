# syntax=docker/dockerfile:1
# alembic-mcp: the MCP server for safe Alembic migrations, serving the project mounted at /project.
#
#   docker build -t alembic-mcp .
#   stdio (default):  docker run -i --rm -v "$PWD:/project" --user "$(id -u):$(id -g)" alembic-mcp
#   streamable HTTP:  docker run --rm -p 8000:8000 -v "$PWD:/project" -e MCP_TOKEN alembic-mcp \
#                       --transport http --host 0.0.0.0 --auth-token-env MCP_TOKEN
#   any CLI command:  docker run --rm -v "$PWD:/project" alembic-mcp check-heads --json
#
# Client tools for backup_db: pg_dump/pg_restore from the PostgreSQL project's apt repository (one
# major version, PG_MAJOR, dumps every older server too) and mariadb-dump from Debian.
#
# Built and run elsewhere: the development machine has no container engine. tests/test_dockerfile.py
# lints this file with hadolint and checks its structure; tests/test_docker_image.py builds and runs
# the image where a Docker daemon exists (AMCP_TEST_DOCKER=1).
FROM python:3.12-slim-bookworm

# Every RUN stops at the first failing command, with the command traced (-x), and a pipeline fails when
# any of its commands fails.
SHELL ["/bin/bash", "-o", "pipefail", "-eux", "-c"]

ARG PG_MAJOR=18

LABEL org.opencontainers.image.title="alembic-mcp" \
      org.opencontainers.image.description="MCP tool server: safe Alembic migrations with proceed/fix/escalate verdicts" \
      org.opencontainers.image.licenses="MIT"

# Security updates come from the Debian and PGDG repositories at build time; pinned apt versions
# disappear from the mirrors and break the build, so the versions are deliberately not pinned.
# hadolint ignore=DL3008
RUN apt-get update --error-on=any \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
    && rm -rf /var/lib/apt/lists/*
# The PGDG setup script ignores a failed `apt-get update` (and apt-get update exits 0 when a repository
# cannot be fetched), so the update is repeated with --error-on=any and the client package must be known:
# a repository that cannot be reached fails here, saying so, not one step later.
# hadolint ignore=DL3008
RUN /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get update --error-on=any \
    && { apt-cache show "postgresql-client-${PG_MAJOR}" > /dev/null \
         || { echo "postgresql-client-${PG_MAJOR} is not in the PGDG repository: check PG_MAJOR" >&2; exit 1; }; } \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" mariadb-client git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory /project

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /opt/alembic-mcp
COPY pyproject.toml README.md ./
COPY alembic_mcp_pkg ./alembic_mcp_pkg
COPY server ./server
COPY tools ./tools
COPY examples ./examples
# The package, plus the sync PostgreSQL drivers a project's env.py most often uses
# (postgresql:// means psycopg2; postgresql+psycopg:// means psycopg 3).
RUN pip install --no-cache-dir . "psycopg2-binary==2.9.13" "psycopg[binary]==3.3.9" \
    && rm -rf /opt/alembic-mcp/*

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/alembic-mcp-entrypoint

RUN useradd --create-home --uid 10001 --user-group alembic-mcp
USER 10001:10001
# No VOLUME: a declared volume shadows a bind mount of /project under some engines (buildah); mount the
# project with -v "$PWD:/project".
WORKDIR /project
EXPOSE 8000

ENTRYPOINT ["alembic-mcp-entrypoint"]
CMD []
