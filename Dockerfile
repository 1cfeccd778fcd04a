# The code location image used by docker-compose.yml (webserver, daemon and the gRPC code server).
FROM python:3.11-slim
WORKDIR /opt/cdr-warehouse
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY sql ./sql
# Editable so sql/ stays beside the package, where pipelines.sql looks for it.
RUN pip install --no-cache-dir -e '.[docker]' \
 && useradd --create-home dagster
# The production instance: the repo's dagster.yaml plus a run launcher that gives each run its
# own container (docker/dagster.yaml).
COPY docker/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
ENV DAGSTER_HOME=/opt/dagster/dagster_home
USER dagster
