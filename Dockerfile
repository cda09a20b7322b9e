# sim06 services image: slim, non-root, one image for registry, identity, gateway and the CLI.
#   docker build -t sim06 .
#   docker run --rm -p 127.0.0.1:8001:8001 -e SIM06_HOST=0.0.0.0 sim06   # embedded: sim06 up
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY sim06 ./sim06
COPY mock_registry ./mock_registry
COPY services ./services
COPY contracts ./contracts
# Every dependency has wheels (uvloop, orjson, psycopg-binary...): no compiler in either stage.
RUN pip install --prefix=/install . \
    && find /install -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SIM06_DATA_DIR=/data SIM06_HOST=0.0.0.0
RUN groupadd --system --gid 10001 sim06 \
    && useradd --system --uid 10001 --gid sim06 --home-dir /app --shell /usr/sbin/nologin sim06 \
    && mkdir -p /app /data && chown sim06:sim06 /app /data
COPY --from=build /install /usr/local
COPY --from=build --chown=sim06:sim06 /src/contracts /app/contracts
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000 8001 8002
CMD ["sim06", "up"]
