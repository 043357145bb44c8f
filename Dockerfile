# An operator image: kubeplan plus the operator's code, run as a non-root user.
#
#   docker build -t registry.example/widgets:1.0 --build-arg OPERATOR_DIR=path/to/operator .
#
# OPERATOR_DIR (relative to this folder) is copied to /app, which is on PYTHONPATH; a
# requirements.txt in it is installed. The container runs `kubeplan run MODULE:ATTR`,
# the Deployment from `kubeplan manifests` passes MODULE:ATTR and the health port.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# kubeplan itself, from this checkout (a non-editable install: the source is not kept)
WORKDIR /src
# (the command and two layers: the testkit is a test-time dependency, not installed here)
COPY pyproject.toml README.md ./
COPY cli ./cli
COPY core ./core
COPY adapters ./adapters
RUN pip install ./core ./adapters . && rm -rf /src

# the operator's code
ARG OPERATOR_DIR=examples
COPY ${OPERATOR_DIR} /app
RUN if [ -f /app/requirements.txt ]; then pip install -r /app/requirements.txt; fi

# a fixed numeric uid: the Deployment sets runAsUser to it so runAsNonRoot can be verified
RUN groupadd --gid 10001 kubeplan \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin kubeplan
USER 10001:10001
WORKDIR /app
ENV PYTHONPATH=/app

EXPOSE 8080
ENTRYPOINT ["kubeplan", "run"]
