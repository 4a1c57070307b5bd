FROM alpine:3.18
HEALTHCHECK CMD ["true"]
LABEL maintainer="team@example.com"
FROM alpine:3.19
FROM docker.io/library/alpine:3.19
FROM localhost/alpine:1 AS local
USER 1000
