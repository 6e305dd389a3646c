# A slim, non-root image running `chatbot run`; the SQLite database lives on the /data volume.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chatbot ./chatbot
COPY handlers ./handlers
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 chatbot && mkdir /data && chown chatbot /data
COPY --from=build /install /usr/local
ENV CHATBOT_DB=/data/chatbot.sqlite3 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER chatbot
WORKDIR /home/chatbot
CMD ["chatbot", "run"]
