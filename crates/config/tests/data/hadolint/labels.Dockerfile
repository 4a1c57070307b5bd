FROM debian:12.5 AS base
LABEL maintainer="team@example.com" \
      org.opencontainers.image.source="https://example.com/repo" \
      org.opencontainers.image.created="2024-05-01T10:00:00Z" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="0123abc" \
      org.opencontainers.image.version="1.2.3" \
      org.opencontainers.image.title="base"
HEALTHCHECK CMD ["true"]

FROM base AS child
LABEL org.opencontainers.image.version="1.3.0"

FROM debian:12.5 AS bad
LABEL maintainer="not an address" \
      org.opencontainers.image.source="example.com/no-scheme" \
      org.opencontainers.image.created="yesterday" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.revision="ABCDEF0" \
      org.opencontainers.image.version="v1.2" \
      org.opencontainers.image.title=""
LABEL Vendor=acme com.docker.thing=1 extra.label=x

FROM debian:12.5 AS copied
LABEL maintainer="team@example.com"

FROM debian:12.5
COPY --from=copied /etc/hostname /tmp/
LABEL "maintainer"="a@b.example" org.opencontainers.image.licenses=GPL-2.0+
USER 1000
