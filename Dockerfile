# syntax=docker/dockerfile:1
#
# opsbot in a container: a static binary (no cgo; SQLite is pure Go) on a small
# Alpine base that keeps a shell, tar and CA certificates for backup and check
# commands, run as an unprivileged user with its SQLite file on the /data volume.
#
#   docker build -t opsbot --build-arg VERSION=$(git describe --always) \
#                          --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run -d -p 8080:8080 -v opsbot-data:/data \
#              -v $PWD/opsbot.yaml:/etc/opsbot/opsbot.yaml:ro opsbot
#
# The image's config is config.example.yaml; mount your own over
# /etc/opsbot/opsbot.yaml. OPSBOT_LISTEN and OPSBOT_DSN below feed its
# listen: and database.dsn: (${OPSBOT_LISTEN:-...}); if your file sets listen
# literally, it must be 0.0.0.0:8080 (or :8080) for -p to reach it.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
# -buildvcs=false: the build context has no .git; REVISION stands in for it.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/opsbot . \
 && /out/opsbot version

FROM alpine:3.20
RUN apk add --no-cache ca-certificates tar \
 && addgroup -S -g 10001 opsbot \
 && adduser -S -D -H -u 10001 -G opsbot -h /data opsbot \
 && mkdir -p /data /etc/opsbot \
 && chown opsbot:opsbot /data
COPY --from=build /out/opsbot /usr/local/bin/opsbot
COPY config.example.yaml /etc/opsbot/opsbot.yaml
ENV OPSBOT_LISTEN=0.0.0.0:8080 \
    OPSBOT_DSN=/data/opsbot.db
WORKDIR /data
VOLUME /data
EXPOSE 8080
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.yaml"]
