FROM golang:1.22 AS build
COPY src.tar /src/
RUN tar -xf /src/src.tar
HEALTHCHECK NONE

FROM build AS test
RUN go test ./...

FROM alpine:3.19
COPY --from=build /out/app /app
COPY pkg.tgz /tmp/
RUN tar xzf /tmp/pkg.tgz && gunzip /tmp/other.gz
USER 1000
