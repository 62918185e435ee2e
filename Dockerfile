# One image for the four services and the migration job. docker-compose.yml
# passes the command for each, for example:
#   uvicorn ingest.app:create_app --factory --host 0.0.0.0 --port 8001
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Only the workspace is copied, so that a local .venv or the state of
# deploy/local (.local) never ends up in the image.
COPY pyproject.toml uv.lock ./
COPY shared ./shared
COPY services ./services
COPY ops ./ops
COPY deploy ./deploy

# --frozen installs exactly the versions in uv.lock and fails if the lock
# is out of date with pyproject.toml. The dev group holds test tools only.
RUN uv sync --frozen --no-dev

ENV PATH=/opt/venv/bin:$PATH

RUN useradd --system --no-create-home --home-dir /app campo
USER campo

EXPOSE 8001 8002 8003 8004
