# syntax=docker/dockerfile:1
# One image for the operator and its runners:
#   docker run IMAGE herd operator --all-namespaces
#   docker run IMAGE herd run /etc/herd/loadtest.yaml ...
#
# Build: docker build -t herd:dev .   (or: buildah bud --isolation chroot -t herd:dev .)
# Release builds pin the base by digest: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:…
# Python dependencies are pinned with hashes in requirements/image.txt (bash requirements/lock.sh).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# tini is copied into the final stage; apt stays out of it.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/image.txt requirements/build.txt requirements/
# Wheels only: nothing is compiled, so no compiler is needed even here. --require-hashes
# also fails the build if the lock misses a dependency of anything in it.
RUN python3 -m venv /opt/herd \
 && /opt/herd/bin/pip install --require-hashes --only-binary :all: -r requirements/image.txt \
 && python3 -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --only-binary :all: -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY loadgen/ loadgen/
COPY operator/ operator/
# herd's own wheel, built with the pinned setuptools (no build isolation: it would download an
# unpinned one). pip compiles bytecode on install: the root filesystem is read-only at run time.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/herd/bin/pip install --no-deps --no-index /wheels/herd-*.whl \
 && /opt/herd/bin/pip check \
 && /opt/herd/bin/python -m pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="herd" \
      org.opencontainers.image.description="Kubernetes-native load tests for autoscaling endpoints: operator and runner" \
      org.opencontainers.image.source="https://github.com/herd-dev/herd" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /usr/bin/tini /usr/bin/tini
COPY --from=build /opt/herd /opt/herd
# HOME and every write go to /tmp (an emptyDir in the pods), so the root can be read-only.
ENV PATH=/opt/herd/bin:${PATH} \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The kubelet can verify runAsNonRoot only for a numeric uid.
USER 65532:65532
WORKDIR /tmp
# tini is PID 1: it forwards SIGTERM to herd, so a stopped runner drains, accounts for every
# request and writes its summary, and it reaps zombies. A pod's `command` replaces this
# ENTRYPOINT; give the herd command line as `args` to keep tini.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["herd", "--help"]
