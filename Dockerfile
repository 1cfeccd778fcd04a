# The code location image used by docker-compose.yml (webserver, daemon and the gRPC code server).
FROM python:3.11-slim
WORKDIR /opt/cdr-warehouse
COPY pyproject.toml README.md ./
COPY pipelines ./pipelines
COPY sql ./sql
# Editable so sql/ stays beside the package, where pipelines.sql looks for it.
RUN pip install --no-cache-dir -e . \
 && useradd --create-home dagster
COPY dagster.yaml /opt/dagster/dagster_home/dagster.yaml
ENV DAGSTER_HOME=/opt/dagster/dagster_home
USER dagster
