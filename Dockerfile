# A slim, non-root image running `chatbot run`; the SQLite database lives on the /data volume.
FROM python:3.11-slim AS build
WORKDIR /src
# Exactly the versions in requirements.lock, each checked against its hash; then the bot itself
# without resolving anything again.
COPY requirements.lock ./
RUN pip install --no-cache-dir --prefix=/install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY chatbot ./chatbot
COPY handlers ./handlers
RUN pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 chatbot && mkdir /data && chown chatbot /data
COPY --from=build /install /usr/local
ENV CHATBOT_DB=/data/chatbot.sqlite3 \
    CHATBOT_HTTP_PORT=8080 \
    CHATBOT_HTTP_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
USER chatbot
WORKDIR /home/chatbot
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=8)"
CMD ["chatbot", "run"]
