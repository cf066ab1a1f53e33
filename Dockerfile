# qbarr: supervisord is PID 1 after `qbarr run` execs it (it reaps orphans and turns SIGTERM
# into an orderly stop of every program), so no tini is needed.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    QBARR_HOME=/config \
    QBARR__WEBUI__HOST=0.0.0.0 \
    PUID=1000 \
    PGID=1000

# A non-root user for the programs; `qbarr run` starts as root only to chown /config to
# PUID:PGID, then drops to that user before it execs supervisord.
RUN groupadd --gid 1000 qbarr \
    && useradd --uid 1000 --gid qbarr --home-dir /config --no-create-home --shell /usr/sbin/nologin qbarr \
    && mkdir -p /config \
    && chown qbarr:qbarr /config

COPY . /src
# [postgresql]: psycopg, imported only when [Settings] Database names a PostgreSQL server
RUN pip install "/src[postgresql]" && rm -rf /src

VOLUME ["/config"]
EXPOSE 6969
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6969/health', timeout=4)"]
ENTRYPOINT ["qbarr", "run"]
